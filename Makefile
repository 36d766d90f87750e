# Every target bootstraps .venv itself: a fresh clone needs only python3 (3.11+) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test fuzz lint clean-data bench chaos browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/partnerflow run

# Two pytest workers (pytest-xdist; worksteal evens out the few long tests): the suite waits
# on Temporal servers as much as it computes.
# Bytecode is written even where the environment says not to (PYTHONDONTWRITEBYTECODE): every
# worker process, CLI run and workflow sandbox would otherwise compile the sources again.
test: lint browser
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -n 2 --dist worksteal

# Headless Chromium for the browser tests (Debian's package), installed when missing and root;
# otherwise those tests are skipped with the reason.
browser:
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null \
		|| apt-get install -y -q chromium >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } \
		|| echo "could not install chromium: the browser tests will be skipped"

# Longer fuzzing of the intake endpoints (schemathesis, from the app's own OpenAPI); `make test`
# runs the same checks with a few examples per endpoint.
FUZZ_EXAMPLES ?= 1000
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest --timeout=0 tests/starters/test_fuzz_intake.py

# ruff (lint and format) and mypy (strict on models/ and workflows/): `make test` runs it first.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Benchmarks against a bare Temporal baseline (not part of `make test`): bench/README.md.
# Options: make bench BENCH_ARGS='--n 20 --partners 2000'
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Fault injection at full size (kill -9 the worker, restart Temporal, flaky Stripe/SendGrid,
# database outage) and the CLI's exit code 100 times: docs/chaos.md. `make test` runs them reduced.
chaos: $(STAMP)
	CHAOS_FULL=1 $(BIN)/python -m pytest tests/chaos tests/starters/test_cli_updates.py -p no:cacheprovider

clean-data:
	rm -rf .data
