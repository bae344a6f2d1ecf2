# Every target sets up .venv first (once, and again when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench console

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/factdeck run

console: $(STAMP)
	$(BIN)/factdeck console

test: $(STAMP)
	$(BIN)/pytest -q -n auto --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench_load
	$(BIN)/python -m benchmarks.bench_search
	$(BIN)/python -m benchmarks.bench_bot
	$(BIN)/python -m benchmarks.bench_views
	$(BIN)/python -m benchmarks.bench_import
	$(BIN)/python -m benchmarks.bench_guards
	$(BIN)/python -m benchmarks.bench_study_questions
	$(BIN)/python -m benchmarks.bench_study
	$(BIN)/python -m benchmarks.bench_web
