# The few commands a newcomer needs. Everything is installed into .venv by the first target that needs it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= ../shared/data

.PHONY: help install run demo test unit integration lint bench train eval clean

help:
	@echo "make run    start Envoy + Triage + three fake providers on 127.0.0.1 (Ctrl-C stops all)"
	@echo "make demo   start the stack, send ~40 prompts through it, print the routing table, stop"
	@echo "make test   lint, type-check and run every test (unit + real-Envoy integration)"
	@echo "make bench  decision latency, then the latency Triage adds through Envoy (quick run)"
	@echo "make train  retrain the shipped classifier from $(DATA)"
	@echo "make eval   routing quality (APGR, CPT) on MMLU and RouterBench, task accuracy on held-out prompts"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@# xds-protos ships an old copy of opentelemetry-proto's modules; put the real ones back on top.
	$(BIN)/pip install --quiet --force-reinstall --no-deps "opentelemetry-proto==$$($(BIN)/python -c 'import importlib.metadata as m; print(m.version("opentelemetry-proto"))')"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/triage run

demo: $(STAMP)
	$(BIN)/triage demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

integration: $(STAMP)
	$(BIN)/pytest tests/integration -q

test: lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/decision_latency.py
	$(BIN)/python bench/envoy_overhead.py --quick

train: $(STAMP)
	$(BIN)/triage train --data $(DATA)

OUTCOMES := $(DATA)/routing_outcomes

# The shipped model was trained on the MMLU dev subjects, so its MMLU numbers here are in-sample; the
# held-out-subject figures are in the model card (triage train --oof-scores). RouterBench is never trained on.
eval: $(STAMP)
	$(BIN)/triage eval routing --benchmark mmlu --data $(OUTCOMES)/routellm_mmlu_dev \
		--exclude $(OUTCOMES)/routellm_mmlu_dev/contaminated_prompts.jsonl
	for split in arc_challenge mbpp winograde; do \
		$(BIN)/triage eval routing --benchmark outcomes --data $(OUTCOMES)/routerbench_subset/$${split}_test.csv \
			--strong gpt-4-1106-preview --weak mistralai/mixtral-8x7b-chat | tail -4; done
	$(BIN)/triage eval tasks --data eval/tasks_handwritten.jsonl

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache src/*.egg-info
