# Linli: `make run` serves the app, `make test` runs every test. Both install what they need.
PY ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser java run test test-fast test-scale lint bench demo clean

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

# A Java runtime for the Spark batch layer (docs/scale.md), from Debian's packages.
java:
	@if ! command -v java >/dev/null 2>&1 && [ -z "$$JAVA_HOME" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing default-jre-headless for the Spark tests…"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      default-jre-headless >/dev/null || echo "default-jre-headless not installed: Spark tests will skip"; \
	  else echo "no Java runtime and not root: Spark tests will skip"; fi; fi

test: lint browser java
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q -m "not scale"

# The slow Spark tests (identical results at more periods, fan-out, two ingesters, 100k messages).
test-scale: install java
	$(BIN)/python -m pytest -n 0 -q -m scale

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
