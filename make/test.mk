# The tests, in tiers (tests/README.md): unit (no model, no server, seconds), integration
# (components and stores), system (real servers, the browser, the cluster and the channels).
# `make test` runs them all, as CI does, with nothing skipped for a missing package.

.PHONY: test test-unit lint types test-packages

test: test-packages $(MODEL) $(WIDGET_DEPS) lint
	$(BIN)/pytest

test-unit: $(SPACY_PIPELINE)/meta.json
	$(BIN)/pytest -m unit -q

lint: $(INSTALLED) types
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(INSTALLED)
	$(BIN)/mypy

# The Debian packages the system tests drive: Chromium (the web chat), PostgreSQL, Redis and
# nginx (the scale-out). Installed when missing and we are root; otherwise named, and the run
# stops rather than skipping their tests.
test-packages:
	@tools/test_packages.sh
