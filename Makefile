# Everything installs from this repository's own files: `make test` works on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=
# Test processes for `make test` and the broker tiers (pytest-xdist; 0 runs them in this process). Most of a fault
# test is waiting (a group's join, a killed member's session expiring), so two halve `make test` on two cores.
# worksteal: an idle process takes queued tests from the busy one (under `--dist load` one was handed every fault
# test: 11.4 min).
PYTEST_WORKERS ?= 2
# -v -rA: every test by name with its broker ([tansu] / [apache_kafka]) in the log; exit 5 (no tests) fails.
PYTEST_PARALLEL = $(BIN)/pytest -rA -v -n $(PYTEST_WORKERS) --dist worksteal
KAFKA_DIR  ?= .pipeline-data/apache-kafka
KAFKA_PORT ?= 9092

.PHONY: help venv build deps kafka kafka-start kafka-stop lint test test-unit test-agents test-integration test-faults test-bench \
        test-deploy demo eval bench soak clean

help:
	@echo "make demo        - embedded broker + worker + sample corpus, signals as windows close"
	@echo "make test        - lint (ruff, mypy) and every test tier, both brokers, real Prometheus"
	@echo "make build       - compile the analysis package with mypyc (done by every target that runs it)"
	@echo "make eval        - accuracy on ../shared/eval/devset.jsonl"
	@echo "make bench       - throughput, latency and memory, as ratios against baselines of the same run"
	@echo "make soak        - one worker through a million articles published within a week: its resident set"
	@echo "make kafka-start - Apache Kafka (KRaft, from Maven Central) on 127.0.0.1:\$$KAFKA_PORT; kafka-stop stops it"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

# The analysis package compiled with mypyc beside its sources (setup.py), rebuilt when a source changes: a stale
# compiled module would shadow the edited .py. Where it cannot be compiled the package runs as plain Python.
ANALYSIS_SOURCES := $(wildcard pipeline/analysis/*.py)
BUILT := $(VENV)/.analysis-built
$(BUILT): $(STAMP) setup.py $(ANALYSIS_SOURCES)
	rm -f pipeline/analysis/*.so pipeline_analysis__mypyc*.so  # a failed build must not leave the old ones
	$(BIN)/python setup.py --quiet build_ext --inplace
	touch -c pipeline/analysis/*.so  # copied with build/'s times; they are the current sources compiled
	touch $(BUILT)

build: $(BUILT)

# Debian packages (prometheus, promtool, amtool, kcat), the Compose schema, and Apache Kafka's jars (when Java
# 17+ and Maven are here; elsewhere the Apache Kafka tests say they are skipped, and fail under CI=true).
deps: build
	PYTHON=$(BIN)/python scripts/install-system-deps.sh
	@if command -v java >/dev/null && command -v mvn >/dev/null; then scripts/apache-kafka.sh assemble; \
	 else echo "make deps: no java/mvn: the Apache Kafka tests will be skipped"; fi

kafka:
	scripts/apache-kafka.sh assemble

kafka-start: kafka
	scripts/apache-kafka.sh start $(KAFKA_DIR) $(KAFKA_PORT)

kafka-stop:
	scripts/apache-kafka.sh stop $(KAFKA_DIR)

lint: venv
	$(BIN)/ruff check pipeline tests examples bench setup.py
	$(BIN)/mypy

test: lint deps
	$(PYTEST_PARALLEL) $(PYTEST_ARGS)

test-unit: build
	$(BIN)/pytest -rA tests/unit $(PYTEST_ARGS)

test-agents: build
	$(BIN)/pytest -rA tests/agents $(PYTEST_ARGS)

test-integration: build
	$(PYTEST_PARALLEL) tests/integration $(PYTEST_ARGS)

test-faults: deps
	$(PYTEST_PARALLEL) tests/faults $(PYTEST_ARGS)

test-bench: deps
	$(PYTEST_PARALLEL) tests/bench $(PYTEST_ARGS)

test-deploy: deps
	$(PYTEST_PARALLEL) tests/deploy $(PYTEST_ARGS)

demo: build
	$(BIN)/pipeline demo

eval: build
	$(BIN)/pipeline analyze ../shared/eval/devset.jsonl > $(VENV)/devset-pred.jsonl
	$(BIN)/python ../shared/eval/score.py ../shared/eval/devset.jsonl $(VENV)/devset-pred.jsonl --baseline

# deps: kcat, the paced publisher of the latency articles (and Kafka's jars, which the bench would assemble too).
bench: deps
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# About 13 minutes on a 2-core machine: not part of bench, which must finish within 15.
soak: build
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

clean:
	rm -rf $(VENV) .pipeline-data .pytest_cache .mypy_cache .ruff_cache build
	find pipeline -name '*.so' -delete
	rm -f pipeline_analysis__mypyc*.so
