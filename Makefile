# drawledger: `make run` serves a demo log on 127.0.0.1:8000; `make test` runs everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   := var/demo/drawledger.sqlite

.PHONY: install run demo test lint types unit bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server,beacon,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	rm -rf var/demo
	$(BIN)/drawledger --db $(DEMO) demo

run: demo
	$(BIN)/python -m api --db $(DEMO) --host 127.0.0.1 --port 8000

lint: install
	$(BIN)/ruff check verifier ledger api tests bench

types: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q

test: lint types unit

bench: install
	$(BIN)/python bench/merkle.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/append.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/registry_rules.py
	$(BIN)/python bench/draw.py

clean:
	rm -rf var out .pytest_cache .mypy_cache .ruff_cache
