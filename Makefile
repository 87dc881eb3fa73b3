# Everything installs from this repository's own files: `make test` works on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: help venv lint test test-unit test-agents test-integration demo analyze eval clean

help:
	@echo "make demo    - embedded broker + worker + sample corpus, signals as windows close"
	@echo "make test    - lint (ruff, mypy) and every test tier"
	@echo "make eval    - accuracy on ../shared/eval/devset.jsonl"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check pipeline tests examples bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -rA -v $(PYTEST_ARGS)

test-unit: venv
	$(BIN)/pytest -rA tests/unit $(PYTEST_ARGS)

test-agents: venv
	$(BIN)/pytest -rA tests/agents $(PYTEST_ARGS)

test-integration: venv
	$(BIN)/pytest -rA -v tests/integration $(PYTEST_ARGS)

demo: venv
	$(BIN)/pipeline demo

eval: venv
	$(BIN)/pipeline analyze ../shared/eval/devset.jsonl > $(VENV)/devset-pred.jsonl
	$(BIN)/python ../shared/eval/score.py ../shared/eval/devset.jsonl $(VENV)/devset-pred.jsonl --baseline

clean:
	rm -rf $(VENV) .pipeline-data .pytest_cache .mypy_cache .ruff_cache
