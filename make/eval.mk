# Measured, not hoped: the evaluations, the reply catalogue and the benchmark.

.PHONY: eval replies bench

# Held-out NLU, the red-flag sets and the blind conversation sets, each by category.
eval: $(MODEL)
	$(BIN)/python -m tools.evaluate_nlu
	$(BIN)/python -m tools.evaluate_red_flags
	$(BIN)/python -m tools.evaluate_conversations --quiet

# Every reply the assistant can give, for a clinician's review: results/replies.md
replies: $(INSTALLED)
	$(BIN)/python -m tools.replies

# BENCH_ARGS="--soak 600 --cluster" adds a soak and 1 vs 2 instances behind nginx.
bench: $(MODEL) $(WIDGET_DEPS)
	$(BIN)/python -m tools.benchmark $(BENCH_ARGS)
