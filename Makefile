# vrash-companion: `make figures` rebuilds every figure and table, `make test` runs the tests.
# Both create .venv and install what they need (torch first: the CPU wheel, pinned).

PYTHON ?= python3
VENV   ?= .venv
PROFILE ?= paper
SEED   ?= 0
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install figures test test-fast lab lint format bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  variables: PROFILE=$(PROFILE) (paper|smoke) SEED=$(SEED)"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP) ## create .venv and install torch (CPU) + vrashlib + dev tools

figures: $(STAMP) ## run every notebook with papermill (PROFILE=paper writes figures/, smoke writes build/)
	$(BIN)/vrash reproduce --profile $(PROFILE) --seed $(SEED)

test: $(STAMP) ## the whole test suite, including the notebook smoke run
	$(BIN)/python -m pytest -q

test-fast: $(STAMP) ## the tests without the slow ones (notebook smoke run, DDP)
	$(BIN)/python -m pytest -q -m "not slow"

lab: $(STAMP) ## open the notebooks in JupyterLab (jupytext opens the .py sources as notebooks)
	$(BIN)/jupyter lab notebooks/

lint: $(STAMP) ## ruff check + format check
	$(BIN)/ruff check vrashlib tests benchmarks notebooks
	$(BIN)/ruff format --check vrashlib tests benchmarks notebooks

format: $(STAMP) ## ruff fix + format
	$(BIN)/ruff check --fix vrashlib tests benchmarks notebooks
	$(BIN)/ruff format vrashlib tests benchmarks notebooks

bench: $(STAMP) ## run the benchmarks (prints figures and ratios)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean: ## remove build outputs (keeps .venv and the committed figures)
	rm -rf build lightning_logs .pytest_cache
