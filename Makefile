# The few commands a newcomer needs. Everything is installed into .venv by the first target that needs it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= ../shared/data

.PHONY: help install run demo test unit integration lint bench bench-saturation report proto soak train eval clean image image-test prometheus

help:
	@echo "make run    start Envoy + Triage + three fake providers on 127.0.0.1 (Ctrl-C stops all)"
	@echo "make demo   start the stack, send ~40 prompts through it, print the routing table, stop"
	@echo "make test   lint, type-check and run every test (unit + real-Envoy integration)"
	@echo "make bench  decision latency, then the latency Triage adds through Envoy (quick run)"
	@echo "make bench-saturation  req/s per core of Triage vs the do-nothing server on a CPU quota, 1 and 2 processes (root)"
	@echo "make soak   bounded mixed traffic under a fault schedule; one line of figures (SOAK_SECONDS=120)"
	@echo "make report report on make run's store (.run/store): cost, savings, tail, drift; HTML in .run/report.html"
	@echo "make train  retrain the shipped classifier from $(DATA)"
	@echo "make eval   routing quality (APGR, CPT) and task macro-F1 on sources the shipped model never trained on"
	@echo "make proto  recompile proto/ (the feedback API) into src/triage/feedback/gen/"
	@echo "make image  build the container image with buildah, no Docker engine or registry ($(IMAGE))"
	@echo "make image-test build the image, then run it behind the real Envoy (buildah run) and lint the Dockerfile"

$(STAMP): pyproject.toml setup.py $(wildcard src/triage/*/*.c)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@# xds-protos ships an old copy of opentelemetry-proto's modules; put the real ones back on top.
	$(BIN)/pip install --quiet --force-reinstall --no-deps "opentelemetry-proto==$$($(BIN)/python -c 'import importlib.metadata as m; print(m.version("opentelemetry-proto"))')"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/triage run $(if $(PORT_OFFSET),--port-offset $(PORT_OFFSET))

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

# Debian's Prometheus server: the metrics test scrapes Triage with the real one (installed when missing, as root).
PROMETHEUS := $(shell command -v prometheus 2>/dev/null)
prometheus:
ifeq ($(PROMETHEUS),)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's prometheus package (the metrics test scrapes Triage with it)"; \
		(apt-get install -y -qq prometheus >/dev/null 2>&1 || \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null)); \
	else echo "prometheus not found and not root: the metrics test will skip (apt-get install prometheus)"; fi
endif

test: lint prometheus
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/decision_latency.py
	$(BIN)/python bench/envoy_overhead.py --quick

SATURATION_ARGS ?=
# The highest req/s each ext_proc server sustains on a CPU quota (cgroup; needs root, else unconfined) with p99 under a
# bound, next to the do-nothing server's, and the scaling from 1 to 2 processes (`triage serve --workers 2`); ~8-10 min.
bench-saturation: $(STAMP)
	$(BIN)/python bench/saturation.py $(SATURATION_ARGS)

SOAK_SECONDS ?= 120
SOAK_RATE ?= 20
# Bounded mixed traffic on 127.0.0.1 under a fault schedule (503, 429, hang, cut streams, kill -9 of Triage,
# bad and good config saves); prints one line of figures and fails if a request was lost.
soak: $(STAMP)
	$(BIN)/python bench/soak.py --seconds $(SOAK_SECONDS) --rate $(SOAK_RATE)

report: $(STAMP)
	$(BIN)/triage report --store .run/store --html .run/report.html

train: $(STAMP)
	@test -d $(DATA) || { echo "make train: $(DATA) not found (the data is read from ../shared/data; set DATA=...)"; exit 2; }
	$(BIN)/triage train --data $(DATA)

OUTCOMES := $(DATA)/routing_outcomes
TASKS := $(DATA)/tasks

# Sources the shipped model never trained on (their licences keep them out): RouterBench's three datasets and
# the evaluation-only real-user task sets. The leave-one-source-out table of every source, trainable ones
# included, is in the model card (`make train` writes it).
eval: $(STAMP)
	@test -d $(DATA) || { echo "make eval: $(DATA) not found (the data is read from ../shared/data; set DATA=...)"; exit 2; }
	for split in arc_challenge mbpp winograde; do \
		$(BIN)/triage eval routing --benchmark outcomes --data $(OUTCOMES)/routerbench_subset/$${split}_test.csv \
			--strong gpt-4-1106-preview --weak mistralai/mixtral-8x7b-chat | tail -4; done
	$(BIN)/triage eval tasks --data eval/tasks_handwritten.jsonl | head -1
	$(BIN)/triage eval tasks --data $(TASKS)/self_instruct/user_oriented_instructions.jsonl | head -1
	$(BIN)/triage eval tasks --data $(TASKS)/belle_zh/eval_set.jsonl | head -1
	$(BIN)/triage eval tasks --data $(TASKS)/belle_zh/zh_seed_tasks.jsonl | head -1

GOOGLEAPIS = $(shell $(BIN)/python -c 'import google.api.annotations_pb2 as m, pathlib; print(pathlib.Path(m.__file__).parents[2])')
FEEDBACK_GEN := src/triage/feedback/gen
# The project's own gRPC APIs: proto/ → src/triage/feedback/gen/ (checked in; a test keeps it current) and the
# descriptor set Envoy's gRPC-JSON transcoder reads.
proto: $(STAMP)
	rm -rf .build/proto && mkdir -p .build/proto
	$(BIN)/python -m grpc_tools.protoc -Iproto -I$(GOOGLEAPIS) --python_out=.build/proto --pyi_out=.build/proto \
		--grpc_python_out=.build/proto --include_imports --descriptor_set_out=$(FEEDBACK_GEN)/feedback.binpb \
		proto/triage/v1/feedback.proto
	cp .build/proto/triage/v1/feedback_pb2.py .build/proto/triage/v1/feedback_pb2.pyi $(FEEDBACK_GEN)/
	sed 's/^from triage\.v1 import /from triage.feedback.gen import /' .build/proto/triage/v1/feedback_pb2_grpc.py \
		> $(FEEDBACK_GEN)/feedback_pb2_grpc.py

IMAGE ?= localhost/triage:latest
# deploy/image/build.sh: installs buildah + debootstrap when missing, builds a local Debian base when the
# Dockerfile's BASE is not in local storage, builds the wheels on the host, then `buildah build` installs them.
image: $(STAMP)
	IMAGE=$(IMAGE) PYTHON=$(BIN)/python bash deploy/image/build.sh

image-test: image
	TRIAGE_IMAGE=$(IMAGE) TRIAGE_IMAGE_REQUIRED=1 $(BIN)/pytest tests/integration/test_image.py tests/unit/test_dockerfile.py -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache src/*.egg-info .build
