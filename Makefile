# Two commands do everything on a fresh machine:
#   make run    create the venv, build what is missing or stale, start the assistant
#   make test   the same set-up (and, as root, the Debian packages the tests need), then every test
# The rest, by what it is for:
#   make/setup.mk  make train, make lock, make clean
#   make/run.mk    make shell (chat in the terminal), make cluster (the production set-up),
#                  make review (the turns worth a look, labelled into training data)
#                  make forget SENDER=... (delete one conversation)
#   make/test.mk   make test-unit (seconds), make lint (ruff and mypy)
#   make/eval.mk   make eval (every evaluation set), make replies (every reply, for review),
#                  make bench (the benchmark against stock Rasa)

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

include make/setup.mk
include make/run.mk
include make/test.mk
include make/eval.mk
