# Two commands do everything on a fresh machine:
#   make run    create the venv, build what is missing or stale, start the assistant
#   make test   the same set-up, then the whole test suite (what CI runs)
# Also: make shell (chat in the terminal), make eval (held-out NLU, red-flag and blind conversation
#         reports), make replies (every reply, for review),
#       make bench (benchmark against stock Rasa; BENCH_ARGS="--soak 600 --cluster" adds a soak
#         and 1 vs 2 instances behind nginx),
#       make cluster (N instances behind nginx with PostgreSQL and Redis, as in production),
#       make train, make lint, make lock, make clean.

SHELL := /bin/bash
.DEFAULT_GOAL := run
.DELETE_ON_ERROR:

export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export RASA_PORT ?= 5005
export ACTIONS_PORT ?= 5055

# .python-version selects 3.10 through pyenv: Rasa 3.6 does not run on 3.11.
PYTHON ?= python$(shell cat .python-version)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-$(shell md5sum requirements.lock | cut -c1-12)
SPACY_PIPELINE := models/spacy/bme_en
MODEL := models/bme.tar.gz
WIDGET_DEPS := node_modules/socket.io-client/dist/socket.io.min.js node_modules/axe-core/axe.min.js
# What the trained model depends on (the knowledge and vocabulary files are read at run time).
TRAINING_INPUTS := config.yml domain.yml $(wildcard data/nlu/*.yml) $(wildcard data/*.yml)
TRAINING_INPUTS := $(filter-out data/knowledge.yml data/vocabulary.yml,$(TRAINING_INPUTS))

.PHONY: run test shell train eval bench cluster lint lock clean setup replies

run: $(MODEL) $(WIDGET_DEPS)
	$(BIN)/python -m bot.serve

test: $(MODEL) $(WIDGET_DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

shell: $(MODEL)
	$(BIN)/python -m bot.serve --shell

train: $(MODEL)

setup: $(SPACY_PIPELINE)/meta.json

bench: $(MODEL) $(WIDGET_DEPS)
	$(BIN)/python -m bot.benchmark $(BENCH_ARGS)

# Needs Debian's postgresql, redis-server and nginx. INSTANCES=3 for three `rasa run`.
cluster: $(MODEL)
	$(BIN)/python -m bot.cluster --instances $(or $(INSTANCES),2)

eval: $(MODEL)
	$(BIN)/python -m bot.evaluation
	$(BIN)/python -m bot.red_flag_evaluation
	$(BIN)/python -m bot.conversation_evaluation --quiet

# Every reply the assistant can give, for a clinician's review: results/replies.md
replies: $(INSTALLED)
	$(BIN)/python -m bot.reply_catalogue

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

$(INSTALLED): requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python $$(cat .python-version) (pyenv install $$(cat .python-version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	rm -f $(VENV)/.installed-* && touch $@

# The web widget's dependencies, pinned in package-lock.json and served by the assistant: the
# socket.io client, and axe-core for the accessibility audit in the browser test.
$(WIDGET_DEPS) &: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $(WIDGET_DEPS)

$(SPACY_PIPELINE)/meta.json: $(INSTALLED) data/vocabulary.yml bot/nlu/spacy_pipeline.py bot/vocabulary.py
	$(BIN)/python -m bot.nlu.spacy_pipeline $(SPACY_PIPELINE)

$(MODEL): $(SPACY_PIPELINE)/meta.json $(TRAINING_INPUTS) bot/nlu/vocabulary_entity_extractor.py bot/nlu/linear_svm_intent_classifier.py
	$(BIN)/rasa train --fixed-model-name bme --out models
	touch $@

lock:
	$(BIN)/python -m pip freeze --exclude-editable > requirements.lock

clean:
	rm -rf models results .rasa node_modules
