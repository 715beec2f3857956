# Two entry points, both self-installing on a fresh machine with Python 3.11+ and make:
#   make reproduce   regenerate the figures and tables (BUDGET=quick by default)
#   make test        lint (ruff) and run the test suite (everything except the `paper` marker)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BUDGET ?= quick
PYTEST_ARGS ?=

.PHONY: install lint test test-fast reproduce paper-10k clean-venv

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

# the paper's protocol at its 10 000-sample point (MINDE-C/J, seeds 0-2): Figures 3-4, Table 1 and
# the 10k column of Figures 5-8 from the finished units under data/results/benchmark/paper/
# (computes nothing; the sweep command is in the README)
paper-10k: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m minde.reproduce --budget paper \
		--only fig03_benchmark_tasks,tab01_benchmark_table,fig05_training_size \
		-p n_train=10000 -p 'seeds=[0, 1, 2]' -p finished_only=true

clean-venv:
	rm -rf $(VENV)
