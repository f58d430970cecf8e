# vrash-companion: `make figures` rebuilds every figure and table, `make test` runs the tests.
# Both create .venv and install what they need (torch first: the CPU wheel, pinned).

PYTHON ?= python3
VENV   ?= .venv
PROFILE ?= paper
SEED   ?= 0
RETRAIN ?=
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# JupyterLab opens notebooks/*.py as notebooks (jupytext's viewer): the committed setting,
# read from jupyter-config/ by `make lab` and copied into the venv for a plain `jupyter lab`
LABCONF := $(VENV)/etc/jupyter/labconfig/default_setting_overrides.json

.DEFAULT_GOAL := help
.PHONY: help install figures ablation weights seed test test-fast lab rate report lint format bench mutation clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  variables: PROFILE=$(PROFILE) (paper|smoke) SEED=$(SEED) RETRAIN=$(RETRAIN) (1: train from scratch)"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(LABCONF): jupyter-config/labconfig/default_setting_overrides.json $(STAMP)
	mkdir -p $(dir $@) && cp $< $@

install: $(STAMP) $(LABCONF) ## create .venv and install torch (CPU) + vrashlib + dev tools

figures: $(STAMP) ## run every notebook (PROFILE=paper writes figures/, smoke build/); RETRAIN=1: train the models, not weights/ (the ablation: make ablation)
	VRASH_RETRAIN=$(RETRAIN) $(BIN)/vrash reproduce --profile $(PROFILE) --seed $(SEED)

ablation: $(STAMP) ## train and measure VRASH's remedy variants here instead of using the shipped measurements (~55 min on 2 cores; resumes)
	$(BIN)/vrash ablation --profile $(PROFILE) --seed $(SEED) --fresh

weights: $(STAMP) ## copy the trained models of the run (build/runs/PROFILE) into weights/ (to commit them)
	$(BIN)/vrash export-weights --profile $(PROFILE) --seed $(SEED)

seed: $(STAMP) ## train the three models of another training seed (SEED=1, 2: the claims ledger's) at once, then ship them in weights/
	$(BIN)/vrash train --profile $(PROFILE) --model lm vae vrash --set train.seed=$(SEED) \
	  --run build/runs/$(PROFILE)-seed$(SEED) --dataset build/runs/$(PROFILE)/dataset
	$(BIN)/vrash export-weights --profile $(PROFILE) --set train.seed=$(SEED) \
	  --run build/runs/$(PROFILE)-seed$(SEED) --dataset build/runs/$(PROFILE)/dataset

test: $(STAMP) ## the whole test suite, including the notebook smoke run
	$(BIN)/python -m pytest -q

test-fast: $(STAMP) ## the tests without the slow ones (notebook smoke run, DDP)
	$(BIN)/python -m pytest -q -m "not slow"

lab: $(STAMP) $(LABCONF) ## JupyterLab on the repository, at notebooks/00_listen.py (double-click opens a .py as a notebook)
	JUPYTER_CONFIG_PATH=$(CURDIR)/jupyter-config $(BIN)/jupyter lab --allow-root \
	  --ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/notebooks/00_listen.py

rate: $(STAMP) ## the rating room: a web page where people rate the run's melodies 1-5 (PROFILE's run)
	$(BIN)/vrash rate --profile $(PROFILE)

report: $(STAMP) ## the executed notebooks (build/notebooks/PROFILE) as a static web site in build/report/PROFILE
	$(BIN)/vrash report --profile $(PROFILE)

lint: $(STAMP) ## ruff check + format check
	$(BIN)/ruff check vrashlib tests benchmarks notebooks
	$(BIN)/ruff format --check vrashlib tests benchmarks notebooks

format: $(STAMP) ## ruff fix + format
	$(BIN)/ruff check --fix vrashlib tests benchmarks notebooks
	$(BIN)/ruff format vrashlib tests benchmarks notebooks

bench: $(STAMP) ## run the benchmarks (prints figures and ratios)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

mutation: $(STAMP) ## plant the audit's bugs, then mutation-test the science modules (slow: 40+ min on 2 cores): score, survivors
	nice -n 10 $(BIN)/python benchmarks/planted_bugs.py
	nice -n 10 $(BIN)/python benchmarks/mutation.py

clean: ## remove build outputs (keeps .venv and the committed figures)
	rm -rf build lightning_logs .pytest_cache
