"""The benchmark's simulated users and its ratios (tools/benchmark): the load is shaped like real
use only if conversations really are 1-30 turns, click what they are offered and now and then
describe a warning sign; and a ratio the README quotes must divide the right figures."""

from __future__ import annotations

import random

from tools.benchmark import mix
from tools.benchmark.report import markdown, ratios


def conversations(n: int, seed: int = 1) -> list[list[str]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        user = mix.new_user(rng)
        while not user.done:
            mix.next_message(user, [])
        out.append(user.sent)
    return out


def test_conversations_last_one_to_thirty_turns_most_short_some_long():
    lengths = [len(c) for c in conversations(3000)]
    assert min(lengths) == 1 and max(lengths) == 30
    short, long_ = sum(n <= 3 for n in lengths) / 3000, sum(n >= 18 for n in lengths) / 3000
    assert 0.30 < short < 0.40 and 0.12 < long_ < 0.25  # enough long ones for the per-turn curve


def test_a_warning_sign_now_and_then():
    with_red_flag = sum(any(t in mix.RED_FLAGS for t in c) for c in conversations(3000))
    assert 60 < with_red_flag < 200  # about one conversation in 25


def test_users_click_the_buttons_they_are_offered_and_sometimes_type_instead():
    offered = [{"text": "Where is your BME?", "buttons": [{"title": "Knee", "payload": '/inform{"location": "knee"}'}]}]
    rng = random.Random(3)
    picks = []
    for _ in range(400):
        user = mix.new_user(rng, turns=2)
        mix.next_message(user, [])
        picks.append(mix.next_message(user, offered))
    clicks = picks.count('/inform{"location": "knee"}') / len(picks)
    assert 0.6 < clicks < 0.8
    assert any(p in mix.FOLLOW_UPS for p in picks) and any(p in mix.QUESTIONS for p in picks)


def test_the_same_seed_gives_the_same_users():
    assert conversations(50, seed=7) == conversations(50, seed=7) != conversations(50, seed=8)


def result(name_throughput: dict[str, tuple[float, float]], curve: dict[str, float]) -> dict:
    def assistant(name: str) -> dict:
        c1, c10 = name_throughput[name]
        return {
            "training_s": 20.0 if name == "ours" else 400.0,
            "startup_s": 10.0,
            "model_mb": 3.0,
            "memory_mb": {"steady": 700, "peak": 800},
            "heldout_accuracy": 0.98,
            "nlu_parse_ms": 1.5,
            "turn_curve": {
                "late_over_early": curve[name],
                "conversations": 7,
                "errors": 0,
                "median_ms_by_turn": {1: 9},
            },
            "load": [
                {
                    "concurrency": 1,
                    "throughput": c1,
                    "p50_ms": 10,
                    "p95_ms": 20,
                    "p99_ms": 30,
                    "conversations": 5,
                    "errors": 0,
                    "cores_used": {"assistant": 1.0, "load_generator": 0.1},
                },
                {
                    "concurrency": 10,
                    "throughput": c10,
                    "p50_ms": 50,
                    "p95_ms": 100,
                    "p99_ms": 150,
                    "conversations": 9,
                    "errors": 0,
                    "cores_used": {"assistant": 1.7, "load_generator": 0.3},
                },
            ],
        }

    return {
        "date": "2026-11-30",
        "machine": {"cores": 2, "calibration_ms_at_start": 40.0, "calibration_ms_at_end": 41.0},
        "seconds_per_level": 20,
        "assistants": {name: assistant(name) for name in name_throughput},
    }


def test_ratios_compare_within_the_run_and_lead_the_report():
    results = result({"ours": (50.0, 95.0), "stock": (25.0, 30.0)}, {"ours": 1.05, "stock": 2.0})
    results["ratios"] = r = ratios(results)
    assert r["ours"]["c10_over_c1"] == 1.9 and r["stock"]["c10_over_c1"] == 1.2
    assert r["ours_over_stock"]["throughput"] == {"1": 2.0, "10": 3.17}
    assert r["ours_over_stock"]["training_stock_over_ours"] == 20.0
    report = markdown(results)
    assert report.index("×1.90") < report.index("**Absolute figures**") < report.index("95.0, 50 / 100 / 150 ms")
    assert "2026-11-30" in report and "vary up to 2×" in report
    assert "| 1.7 / 0.3 |" in report  # what the cores did at concurrency 10
