# make reproduce : set up, then run the cpu scale of every study (resumable, with progress)
# make test      : set up, then run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
export WANDB_MODE ?= offline

.PHONY: setup data test test-fast test-docs reproduce figures bench lint clean-runs

setup: $(VENV)/.installed data

$(VENV)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

data:
	@bash scripts/get_data.sh

test: setup
	WANDB_MODE=disabled $(PY) -m pytest -q

test-fast: setup
	WANDB_MODE=disabled $(PY) -m pytest -q -m "not slow"

# every command of every README code block (--dry / --list / parsing) and every link; also part of `make test`
test-docs: setup
	WANDB_MODE=disabled $(PY) -m pytest -q tests/test_readme_commands.py

reproduce: setup
	$(PY) -m largebatch.reproduce

figures: setup
	$(PY) -m largebatch.figures
	$(PY) -m largebatch.report

bench: setup
	$(PY) benchmarks/bench_core.py

lint: setup
	$(VENV)/bin/ruff check src tests experiments benchmarks
	$(VENV)/bin/ruff format --check src tests experiments benchmarks
