# The virtualenv, the web chat's npm packages, our spaCy pipeline and the trained model, each
# rebuilt only when what it depends on changed.

INSTALLED := $(VENV)/.installed-$(shell md5sum requirements.lock | cut -c1-12)
SPACY_PIPELINE := models/spacy/bme_en
MODEL := models/bme.tar.gz
WIDGET_DEPS := node_modules/socket.io-client/dist/socket.io.min.js node_modules/axe-core/axe.min.js
# What the trained model depends on (content/ is read at run time, not trained on).
TRAINING_INPUTS := config.yml domain.yml $(wildcard data/nlu/*.yml) $(wildcard data/rules/*.yml)
MODEL_CODE := $(wildcard bot/nlu/*.py) bot/domain/message_parts.py bot/policies/red_flag_policy.py

.PHONY: setup train lock clean

setup: $(SPACY_PIPELINE)/meta.json

train: $(MODEL)

$(INSTALLED): requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python $$(cat .python-version) (pyenv install $$(cat .python-version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	rm -f $(VENV)/.installed-* && touch $@

# The web chat's two npm packages (socket.io-client, axe-core), pinned in package-lock.json and
# served by the assistant itself.
$(WIDGET_DEPS) &: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $(WIDGET_DEPS)

$(SPACY_PIPELINE)/meta.json: $(INSTALLED) content/vocabulary.yml bot/nlu/spacy_pipeline.py bot/domain/vocabulary.py
	$(BIN)/python -m bot.nlu.spacy_pipeline $(SPACY_PIPELINE)

$(MODEL): $(SPACY_PIPELINE)/meta.json $(TRAINING_INPUTS) $(MODEL_CODE)
	$(BIN)/rasa train --fixed-model-name bme --out models
	touch $@

# Rewrite requirements.lock from the venv after changing requirements.in.
lock:
	$(BIN)/python -m pip freeze --exclude-editable > requirements.lock

clean:
	rm -rf models results .rasa node_modules
