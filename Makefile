# Two commands from a fresh clone: `make demo` and `make test`; `make docs` builds the site.
# Each creates .venv when it is missing and installs the project (editable) into it first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: demo test docs bench clean

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

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	touch $(DOCS_STAMP)

# The CLI reference is written from the app itself (built-in plugins only), then the site is
# built with --strict, so a broken link, image or page fails.
docs: $(DOCS_STAMP)
	TK_DISABLE_PLUGIN_AUTOLOAD=1 $(BIN)/python -m taskkit.cli.reference docs/cli.md
	$(BIN)/mkdocs build --strict

bench: $(STAMP)
	$(BIN)/python benchmarks/cli_startup.py
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/finetune_freeze.py

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache
