# Two entry points, both self-installing on a fresh machine with Python 3.11+ and make:
#   make reproduce   regenerate the figures and tables (BUDGET=quick by default)
#   make test        lint (ruff) and run the test suite (everything except the `paper` marker)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BUDGET ?= quick
PYTEST_ARGS ?=

.PHONY: install lint test test-fast reproduce clean-venv

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[repro,dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (minde)" >/dev/null
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check minde tests benchmarks examples

test: lint
	MPLBACKEND=Agg $(BIN)/python -m pytest -m "not paper" $(PYTEST_ARGS)

test-fast: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -m "not paper and not slow and not notebooks" $(PYTEST_ARGS)

reproduce: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m minde.reproduce --budget $(BUDGET)

clean-venv:
	rm -rf $(VENV)
