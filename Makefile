# Two commands on a fresh machine with Python 3.11+: `make serve` and `make test`.
# Each creates .venv and installs the pinned requirements on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: serve test lint bench install clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing dependencies into $(VENV) (first run only)..."
	@{ $(BIN)/python -m pip install --upgrade pip && \
	   $(BIN)/python -m pip install -r requirements-dev.txt && \
	   $(BIN)/python -m pip install --no-deps -e . ; } > $(VENV)/install.log 2>&1 \
	   || { tail -40 $(VENV)/install.log; echo "install failed: see $(VENV)/install.log"; exit 1; }
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/hector serve $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/tenants.py
	$(BIN)/python bench/runner.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
