# AlphaForge: `make demo` and `make test` are the two commands a new user needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test test-slow lint format bench clean install browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,deep,service]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/alphaforge demo

lint: $(STAMP)
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

# The tear sheet's browser tests drive Debian's chromium; install it when missing (best effort:
# without it those tests are skipped, saying why).
browser:
	@command -v chromium >/dev/null || (apt-get install -y chromium >/dev/null 2>&1 \
	  || (apt-get update >/dev/null 2>&1 && apt-get install -y chromium >/dev/null 2>&1)) \
	  || echo "note: Debian's chromium is not installed; browser tests will be skipped"

test: lint browser
	$(BIN)/pytest -m "not slow" -n 2 $(PYTEST_ARGS)

# Exit code 5 means "no test selected": not a failure when no test is marked slow.
test-slow: $(STAMP)
	$(BIN)/pytest -m slow -n 2 $(PYTEST_ARGS) || [ $$? -eq 5 ]

# Every benchmark runs even when an earlier one misses a target; bench fails if any did.
bench: $(STAMP)
	status=0; $(BIN)/python benchmarks/run.py || status=1; \
	  $(BIN)/python benchmarks/risk.py || status=1; \
	  $(BIN)/python benchmarks/strategies.py || status=1; \
	  $(BIN)/python benchmarks/live.py || status=1; \
	  $(BIN)/python benchmarks/service.py || status=1; exit $$status

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build src/*.egg-info
