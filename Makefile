# Two entry points, both self-installing on a fresh machine with Python 3.11 and make:
#   make reproduce   regenerate the figures and tables (BUDGET=quick by default)
#   make test        lint (ruff) and the first test tier (a few minutes): closed forms, invariants,
#                    input checks, one short accuracy check, one notebook end to end
#   make test-all    lint and every test except the `paper` marker (slow accuracy, every notebook,
#                    kill/resume, Dask, install); CI runs it after `make test`
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
BUDGET ?= quick
# torch comes from PyTorch's CPU-only index (PyPI's Linux build pulls in gigabytes of CUDA);
# `make install TORCH_INDEX=` uses your pip configuration alone, e.g. for a CUDA build
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
PYTEST_ARGS ?=
# test processes (pytest-xdist); each test file runs in one of them, with one torch thread
JOBS ?= 2

# the first tier: everything not marked slow, notebooks or paper, plus the tests marked core
TIER1 := core or not (slow or notebooks or paper)

.PHONY: install lint test test-all test-fast reproduce paper-10k clean-venv

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else \
		"make install needs Python 3.11 (found %d.%d): benchmark-mi pins pandas < 2, which has no wheels " \
		"for later versions. Run make PY=python3.11 ..." % sys.version_info[:2])'
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --no-deps -c constraints.txt $(if $(TORCH_INDEX),--extra-index-url \
		$(TORCH_INDEX) --retries 1 --timeout 20) torch  # its dependencies come with the next line
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[repro,dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (minde)" >/dev/null
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check minde tests benchmarks examples

test: lint
	MPLBACKEND=Agg $(BIN)/python -m pytest -m "$(TIER1)" -n $(JOBS) --dist loadfile --durations=10 $(PYTEST_ARGS)

test-all: lint
	MPLBACKEND=Agg $(BIN)/python -m pytest -m "not paper" -n $(JOBS) --dist loadfile --durations=20 $(PYTEST_ARGS)

test-fast: $(STAMP)
	MPLBACKEND=Agg $(BIN)/python -m pytest -m "not paper and not slow and not notebooks" $(PYTEST_ARGS)

reproduce: $(STAMP)
	MPLBACKEND=Agg $(BIN)/minde reproduce --budget $(BUDGET)

# the paper's protocol at its 10 000-sample point (MINDE-C/J, seeds 0-2): Figures 3-4 and Table 1
# from the finished units under data/results/benchmark/paper/, Figures 5-8 from the units at 5 000,
# 10 000 and 50 000 samples computed so far, then their claims report, reports/paper_n10000.md
# (computes nothing; the sweep commands are in docs/operations.md)
PAPER_SIZES := 5000,10000,50000
paper-10k: $(STAMP)
	MPLBACKEND=Agg $(BIN)/minde reproduce --budget paper \
		--only fig03_benchmark_tasks,tab01_benchmark_table \
		-p n_train=10000 -p 'seeds=[0, 1, 2]' -p finished_only=true
	MPLBACKEND=Agg $(BIN)/minde reproduce --budget paper --only fig05_training_size \
		-p 'n_train=[$(PAPER_SIZES)]' -p 'seeds=[0, 1, 2]' -p finished_only=true
	$(BIN)/minde report --budget paper --n-train 10000 --training-sizes $(PAPER_SIZES) --seeds 0-2 \
		--only fig03_benchmark_tasks,tab01_benchmark_table,fig05_training_size

clean-venv:
	rm -rf $(VENV)
