# Linli: `make run` serves the app, `make test` runs every test. Both install what they need.
PY ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser run test test-fast lint bench demo clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

run: install
	$(BIN)/python -m ops.serve

# Headless Chromium and CJK fonts for the end-to-end tests, from Debian's packages.
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "CJK"; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing chromium and fonts-noto-cjk for the e2e tests…"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      chromium fonts-noto-cjk >/dev/null; \
	  else echo "chromium or CJK fonts missing and not root: e2e tests will skip"; fi; fi

test: lint browser
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

test-fast: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q -m "not e2e and not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench.report

demo: install
	$(BIN)/python -m data.generate --scale demo --force

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache artifacts
