# Running the assistant: in the foreground (make run), in the terminal (make shell), or as in
# production with PostgreSQL, Redis and nginx in front of N instances (make cluster).

.PHONY: run shell cluster review forget

run: $(MODEL) $(WIDGET_DEPS)
	$(BIN)/python -m tools.serve

shell: $(MODEL)
	$(BIN)/python -m tools.serve --shell

# Needs Debian's postgresql, redis-server and nginx. INSTANCES=3 for three `rasa run`.
cluster: $(MODEL)
	$(BIN)/python -m tools.cluster --instances $(or $(INSTANCES),2)

# The turns worth a look (fallbacks, out of scope, unsure, red flags, 👎) from the conversation
# store, labelled into data/nlu/reviewed.yml: http://localhost:5080/ (tools/review/).
# REVIEW_ARGS="--html results/review.html" writes a static report instead.
review: $(INSTALLED)
	$(BIN)/python -m tools.review $(REVIEW_ARGS)
# Deletes every stored event of one conversation (docs/privacy.md), on the store RASA_ENDPOINTS
# selects: make forget SENDER=U0123ABCD
forget: $(INSTALLED)
	@test -n "$(SENDER)" || { echo "Usage: make forget SENDER=<sender id>"; exit 2; }
	$(BIN)/python -m tools.forget -- '$(subst ','\'',$(SENDER))'
