# The two commands a newcomer runs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint install record loadtest bench schema clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,load,shared]"
	touch $(STAMP)

install: $(STAMP)

## Run every job in jobs/ against the embedded mock server (a second run sends nothing new).
demo: $(STAMP)
	$(BIN)/mwsync run jobs/*.yaml

## Run the whole test suite: every tier, the slow system tests included (before pushing; CI runs it).
test: $(STAMP)
	$(BIN)/python -m pytest

## Run every tier but the slow system tests (subprocesses, signals, Locust, the wheel, the benchmark).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

## Lint every Python file (ruff; configuration in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .

## Regenerate the published job-file JSON Schema and the mock server's OpenAPI document.
schema: $(STAMP)
	$(BIN)/mwsync schema job > schema/job.schema.json
	$(BIN)/mwsync schema report > schema/report.schema.json
	$(BIN)/python -m mwsync.mock_server.openapi > schema/mock-openapi.json

## Prove a throttle profile under load against the mock (scaled: 20 calls per 2 s); docs/loadtest.md.
loadtest: $(STAMP)
	$(BIN)/mwsync loadtest --throttle 20/2 --server-limit 20/2 --duration 20

## The bulk-replay benchmark (docs/benchmarks.md); prints figures, writes benchmarks/out/bulk.json.
bench: $(STAMP)
	$(BIN)/python benchmarks/bulk.py --json benchmarks/out/bulk.json

clean:
	rm -rf $(VENV) .mwsync jobs/.mwsync jobs/replay/.mwsync .pytest_cache reports benchmarks/out

## Re-record every cassette against the mock server (a real tenant: docs/recording.md), then replay them
## offline with the network blocked, secret scan included.
record: $(STAMP)
	$(BIN)/python -m pytest tests/recorded -m vcr --record-mode=rewrite
	$(BIN)/python -m pytest tests/recorded --record-mode=none --block-network
