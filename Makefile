# The few commands a newcomer needs. Everything is installed into .venv by the first target that needs it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= ../shared/data

.PHONY: help install run demo test unit integration lint bench train clean

help:
	@echo "make run    start Envoy + Triage + three fake providers on 127.0.0.1 (Ctrl-C stops all)"
	@echo "make demo   start the stack, send ~40 prompts through it, print the routing table, stop"
	@echo "make test   lint, type-check and run every test (unit + real-Envoy integration)"
	@echo "make bench  decision latency and through-Envoy overhead benchmarks"
	@echo "make train  retrain the shipped classifier from $(DATA)"

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

train: $(STAMP)
	$(BIN)/triage train --data $(DATA)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache src/*.egg-info
