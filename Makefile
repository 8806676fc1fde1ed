# Two commands for a newcomer (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := data/demo
DB     ?= hitlgov.duckdb
PORT   ?= 8501
DEMO_CASES ?= 200000

.PHONY: demo test test-slow bench install serve clean fuzz

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-install only when the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test,spark]"
	touch $@

install: $(VENV)/.installed

$(DEMO)/manifest.json: | $(VENV)/.installed
	$(BIN)/hitlgov demo-data --out $(DEMO) --cases $(DEMO_CASES) --seed 0

# Ingesting twice is safe: the second run stores nothing (the Parquet copy holds the same rows).
$(DB): $(DEMO)/manifest.json
	$(BIN)/hitlgov ingest $(DEMO)/decisions.csv $(DEMO)/decisions.parquet --mapping $(DEMO)/mapping.yaml --db $(DB)
	$(BIN)/hitlgov ingest data/compas/compas-scores-two-years.csv --mapping data/compas/mapping.yaml --db $(DB)

demo: $(DB)
	$(BIN)/hitlgov status --db $(DB)
	$(BIN)/hitlgov serve --no-auth --db $(DB) --port $(PORT)

serve: install
	$(BIN)/hitlgov serve --db $(DB) --port $(PORT)

# The default suite leaves out the few longest tests (marker `long`: the installed-wheel run, the
# organisation-certificate verification, Spark local, every page in Chromium at three widths);
# `make test-slow` runs them. CI (.ci/run) runs both.
test: install
	$(BIN)/pytest -n 2 --dist loadgroup -m "not long"   # not `python -m`: the checkout must not be on sys.path

test-slow: install
	$(BIN)/pytest -n 2 --dist loadgroup -m long

# The long fuzz run (issue 14): hundreds of hostile files instead of the default suite's few.
FUZZ_EXAMPLES ?= 400
fuzz: install
	HITLGOV_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/fuzz -q -p no:cacheprovider

# Every step at 1M and 10M cases (ingestion, fixed cost, metrics, report, dashboard in Chromium)
# plus the 100M in-place scale run; writes the generated section of bench/RESULTS.md and the
# Dashboard section's tables. Takes hours on 2 cores: `make bench SCALE_ROWS=0` skips the 100M run.
SCALE_ROWS ?= 100000000
bench: install
	$(BIN)/python bench/run.py --scale-rows $(SCALE_ROWS) --write

clean:
	rm -rf $(DEMO) $(DB) $(DB).wal tests/artifacts bench/out
