"""Would Rasa's ResponseSelector pick treatment items better than our entities do?

The experiment behind the ResponseSelector row of docs/classifier-comparison.md, on the largest
family of one-item questions in tests/blind/set1.yml: the ten treatments (first-line and
advanced, 44 `item` turns).

- Training data: one retrieval intent per treatment (`treatment/nsaids`…). Its examples are
  the ask_treatment and ask_advanced_treatment examples of data/nlu that name exactly that
  treatment (we have no examples written per item), plus the item's title and the sentences
  of its answer in data/knowledge.yml. Pipeline: our spaCy pipeline, CountVectorsFeaturizer
  (words, char_wb 1-4), ResponseSelector (100 epochs).
- Scored on each set1 `item` turn that expects one treatment item, three ways:
  1. today, end to end: the turn was right in the conversation evaluation of variant 1;
  2. the entity pick alone, told the family: the first treatment value the vocabulary finds
     gives the item (bot/topics.item_for), as when the intent is ask_treatment;
  3. the ResponseSelector alone, told the family: its top retrieval intent.
  (2) and (3) get the routing for free, so they compare the item choice only.

Usage: .venv/bin/python -m tools.experiments.response_selector_items [--scratch var/classifier-comparison]
(after tools.experiments.classifier_comparison, whose variant 1 evaluation it reads)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ("treatment", "treatment.advanced")


def build(directory: Path) -> None:
    import spacy
    from rasa.shared.importers.rasa import RasaFileImporter

    from bot.domain.knowledge import knowledge

    kb = knowledge()
    items = [item for family in FAMILIES for item in kb.answers[family].items]
    nlp = spacy.load(str(ROOT / "models" / "spacy" / "bme_en"))
    examples: dict[str, list[str]] = defaultdict(list)
    data = RasaFileImporter(training_data_paths=[str(ROOT / "data" / "nlu")]).get_nlu_data()
    for example in data.intent_examples:
        if example.get("intent") not in ("ask_treatment", "ask_advanced_treatment"):
            continue
        text = example.get("text")
        values = {e.ent_id_ for e in nlp(text.lower()).ents if e.label_ == "treatment" and e.ent_id_}
        if len(values) == 1 and f"treatment.{next(iter(values))}" in items:
            examples[next(iter(values))].append(text)
    for item in items:
        answer = kb.answers[item]
        sentences = [s for bubble in answer.text for s in re.split(r"(?<=[.!?])\s+", bubble) if len(s.split()) > 2]
        examples[item.removeprefix("treatment.")] += [answer.title, *sentences]
    (directory / "data").mkdir(parents=True, exist_ok=True)
    nlu = [
        {"intent": f"treatment/{k}", "examples": "".join(f"- {' '.join(t.split())}\n" for t in v)}
        for k, v in examples.items()
    ]
    (directory / "data" / "nlu.yml").write_text(yaml.safe_dump({"version": "3.1", "nlu": nlu}, sort_keys=False))
    domain = {
        "version": "3.1",
        "intents": ["treatment"],
        "responses": {f"utter_treatment/{k}": [{"text": k}] for k in examples},
    }
    (directory / "domain.yml").write_text(yaml.safe_dump(domain, sort_keys=False))
    pipeline = [
        {"name": "SpacyNLP", "model": str(ROOT / "models" / "spacy" / "bme_en")},
        {"name": "SpacyTokenizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
        {"name": "ResponseSelector", "retrieval_intent": "treatment", "epochs": 100, "random_seed": 1},
    ]
    config = {"recipe": "default.v1", "language": "en", "assistant_id": "rs-experiment", "pipeline": pipeline}
    (directory / "config.yml").write_text(yaml.safe_dump({**config, "policies": []}, sort_keys=False))
    print({k: len(v) for k, v in examples.items()}, "examples per item")


def score(directory: Path, first_variant: Path) -> None:
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.ERROR)
    logging.disable(logging.WARNING)
    import spacy
    from rasa.core.agent import Agent

    from bot.domain.knowledge import knowledge
    from bot.domain.topics import BY_NAME, item_for

    kb = knowledge()
    items = {item for family in FAMILIES for item in kb.answers[family].items}
    nlp = spacy.load(str(ROOT / "models" / "spacy" / "bme_en"))
    wrong_today = {(w["id"], w["text"]) for w in json.loads(first_variant.read_text())["set1"]["wrong"]}
    turns = []
    for conversation in yaml.safe_load((ROOT / "tests" / "blind" / "set1.yml").read_text())["conversations"]:
        for turn in conversation["turns"]:
            expect = turn["expect"]
            if turn["category"] == "item" and len(expect) == 1:
                accepted = expect[0] if isinstance(expect[0], list) else [expect[0]]
                if any(a in items for a in accepted):
                    turns.append((conversation["id"], turn["text"], accepted))
    agent, loop = Agent.load(str(directory / "models" / "rs.tar.gz")), asyncio.new_event_loop()
    today = by_entity = by_selector = 0
    times = []
    for conversation_id, text, accepted in turns:
        picks = [
            item_for(BY_NAME[topic], e.label_, e.ent_id_, kb)
            for e in nlp(text.lower()).ents  # SpacyNLP lowercases before the ruler sees the text
            if e.ent_id_
            for topic in ("treatment", "advanced_treatment")
        ]
        picks = [p.answer for p in picks if p]
        started = time.perf_counter()
        parsed = loop.run_until_complete(agent.parse_message(text))
        times.append(1000 * (time.perf_counter() - started))
        selected = parsed["response_selector"]["treatment"]["response"]["intent_response_key"].replace("/", ".")
        today += (conversation_id, text) not in wrong_today
        by_entity += bool(picks) and picks[0] in accepted
        by_selector += selected in accepted
        if not (picks and picks[0] in accepted and selected in accepted):
            print(f"  {text!r}: expected {accepted}, entity {picks[:1]}, ResponseSelector {selected}")
    n = len(turns)
    print(
        f"treatment item turns: {n}; today end to end {today}/{n}; entity pick, family given {by_entity}/{n}; "
        f"ResponseSelector, family given {by_selector}/{n}; ResponseSelector parse median "
        f"{statistics.median(times):.1f} ms (its own NLU pipeline)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scratch", type=Path, default=ROOT / "var" / "classifier-comparison")
    args = parser.parse_args(argv)
    directory = args.scratch.resolve() / "response-selector"
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    build(directory)
    rasa = str(Path(sys.executable).parent / "rasa")
    train = [rasa, "train", "nlu", "--config", "config.yml", "--nlu", "data", "--domain", "domain.yml"]
    train += ["--out", "models", "--fixed-model-name", "rs"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    with (directory / "train.log").open("w") as log:
        subprocess.run(train, cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    score(directory, args.scratch.resolve() / "1.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
