# drawledger: `make run` serves a demo log on $(HOST):$(PORT) (default 127.0.0.1:8000),
# building the demo only if there is none yet; `make demo` rebuilds it; `make test` runs
# everything.
PYTHON   ?= python3
HOST     ?= 127.0.0.1
PORT     ?= 8000
DEMO_DIR ?= var/demo
DEMO_ARGS ?= --spec 2
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed-stamp
DEMO     := $(DEMO_DIR)/drawledger.sqlite

.PHONY: install run demo test lint types unit jstest bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server,beacon,orjson,dev]'
	touch $(STAMP)

install: $(STAMP)

# The demo is built beside its place and moved there whole, so an interrupted build never
# leaves a half demo that `make run` would then reuse.
demo: install
	@if [ -e $(DEMO_DIR) ]; then \
	  echo "重建演示日志：替换 $(DEMO_DIR) / rebuilding the demo log: replacing $(DEMO_DIR)"; \
	else \
	  echo "生成演示日志 $(DEMO_DIR) / building the demo log in $(DEMO_DIR)"; \
	fi
	rm -rf $(DEMO_DIR).new
	$(BIN)/drawledger --db $(DEMO_DIR).new/drawledger.sqlite demo $(DEMO_ARGS)
	rm -rf $(DEMO_DIR)
	mv $(DEMO_DIR).new $(DEMO_DIR)

run: install
	@if [ -f $(DEMO) ]; then \
	  echo "沿用已有的演示日志 $(DEMO)（重建：make demo） / reusing the demo log $(DEMO) (rebuild: make demo)"; \
	else \
	  $(MAKE) --no-print-directory -o $(STAMP) demo; \
	fi
	@echo "服务地址 / serving http://$(HOST):$(PORT)/ (日志私钥 / log key: $(DEMO_DIR)/parties/log)"
	$(BIN)/python -m api --db $(DEMO) --keys $(DEMO_DIR)/parties/log --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check verifier regfile ledger api client witness drawledger tests bench

types: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q

# The browser verifier's primitives against the same vectors (node's test runner; the
# cryptography is the committed jsverifier/vendor/noble.mjs, so no npm install).
jstest:
	node --test jsverifier/test/

test: lint types unit jstest

bench: install
	$(BIN)/python bench/merkle.py
	$(BIN)/python bench/audit.py
	$(BIN)/python bench/sealed.py
	$(BIN)/python bench/append.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/registry_rules.py
	$(BIN)/python bench/draw.py
	$(BIN)/python bench/witness.py
	$(BIN)/python bench/submit.py

clean:
	rm -rf var out .pytest_cache .mypy_cache .ruff_cache
