# Two commands from a fresh clone: `make demo` and `make test`.
# Each creates .venv when it is missing and installs the project (editable) into it first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tk classify --data digits --backbone lenet --epochs 10 --name demo
	$(BIN)/python benchmarks/transfer_demo.py --out runs/transfer-demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/cli_startup.py
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/finetune_freeze.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
