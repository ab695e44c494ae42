# Rapport: `make demo` runs the product with demo data, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: demo test test-sqlite test-postgres test-browser lint install clean

# requirements.lock pins every package, direct or not (refresh: pip freeze --exclude-editable).
$(STAMP): pyproject.toml requirements.lock package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e ".[dev]"
	npm ci --no-audit --no-fund --silent
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/rapport demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/rapport makemigrations --check --dry-run

test: lint test-sqlite test-postgres test-browser

test-sqlite: $(STAMP)
	@echo "=== test suite on SQLite ==="
	$(BIN)/pytest -q -n 2 --dist loadscope -m "not browser"

# The slow tests start real processes on the embedded SQLite default: once is enough.
# PostgreSQL and the browser are optional on a laptop and required in CI
# (RAPPORT_REQUIRE_POSTGRES=1, RAPPORT_REQUIRE_BROWSER=1, set by .ci/run).
test-postgres: $(STAMP)
	@if $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
		echo "=== test suite on PostgreSQL ($(PG_URL)) ==="; \
		RAPPORT_DATABASE_URL=$(PG_URL) $(BIN)/pytest -q -n 2 --dist loadscope -m "not browser and not slow"; \
	elif [ "$$RAPPORT_REQUIRE_POSTGRES" = "1" ]; then \
		echo "!!! PostgreSQL at $(PG_URL) is required but not reachable"; exit 1; \
	else \
		echo "!!!!!! SKIPPED: PostgreSQL suite — no server at $(PG_URL) (set PG_URL to run it) !!!!!!"; \
	fi

test-browser: $(STAMP)
	@if [ -x /usr/bin/chromium ]; then \
		echo "=== browser suite (headless Chromium) ==="; \
		$(BIN)/pytest -q -m browser; \
	elif [ "$$RAPPORT_REQUIRE_BROWSER" = "1" ]; then \
		echo "!!! /usr/bin/chromium is required but missing (apt-get install chromium)"; exit 1; \
	else \
		echo "!!!!!! SKIPPED: browser suite — /usr/bin/chromium not installed (apt-get install chromium) !!!!!!"; \
	fi

clean:
	rm -rf $(VENV) var
