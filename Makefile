# pmm_pipeline: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CYCLE ?= 2023
# The Dagster UI's port, one setting: `make dev` serves on it and `pmm run` prints links to it (the
# default is pmm_pipeline/core/settings.py's DEFAULT_UI_PORT; a test keeps the two equal).
export PMM_UI_PORT ?= 3000
# The member platform's port (`pmm portal --port`), beside the Dagster UI in `make dev`.
PMM_PORTAL_PORT ?= 8080
DEMO_MEMBER ?= KEN

export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export DAGSTER_DISABLE_TELEMETRY := 1
export DAGSTER_DG_UPDATE_CHECK_ENABLED := 0
# Material's start-up banner about MkDocs 2.0 and its own end of life; the pins in pyproject.toml say why.
export NO_MKDOCS_2_WARNING := 1

.PHONY: help demo test test-fast docs dev browser bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,docs]'
	@touch $(STAMP)

demo: $(STAMP)  ## write sample submissions for CYCLE (default 2023), run the whole cycle, show the outputs
	$(BIN)/pmm sample --cycle $(CYCLE) --seed 1 --format json,xlsx,csv --error-share 0.05 --quality-defect-share 0.05
	$(BIN)/pmm run --cycle $(CYCLE)
	$(BIN)/pmm accounts demo --member $(DEMO_MEMBER)
	@echo "Dagster UI with this run: make dev, then open http://127.0.0.1:$(PMM_UI_PORT)"
	@echo "Member platform: make dev, then sign in at http://127.0.0.1:$(PMM_PORTAL_PORT)/ with an account above"

# The suite runs in TEST_WORKERS processes (pytest-xdist; auto = one per core). Tests that share an expensive
# fixture (a module's, or a whole cycle run once per session) run in one worker, so each is built once
# (pmm_pipeline_tests/conftest.py, worker_groups), and the costliest groups are handed out first
# (heaviest_groups_first). TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

test: $(STAMP) browser docs  ## check imports' direction, lint and formatting, build the docs (strict), then run the whole test suite offline
	$(BIN)/lint-imports --no-cache --no-logo
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PYTEST)

# `unit`: no Dagster run, no process, no browser, no database server (pmm_pipeline_tests/conftest.py says how a
# test is classified; a unit test that starts a run or a process fails, naming the marker it needs).
# One process per core, as `make test`: 694 unit tests took 41 s on 2 cores (2026-12-03; 97-106 s on a
# slower machine the day before, 146 s there in one process).
test-fast: $(STAMP)  ## run the unit tests only (under a minute on 2 cores): no Dagster run, process, browser or database
	$(PYTEST) -m unit

# --strict turns every warning into a failure: a broken link or anchor, a page missing from the nav
# (mkdocs.yml raises those checks to warnings). Builds offline, in about two seconds.
docs: $(STAMP)  ## build the documentation site into site/ (fails on a broken link or a page missing from the nav)
	$(BIN)/mkdocs build --strict --site-dir site

# The UI test opens the asset graph in headless Chromium. Installed from the distribution's
# registry when missing and possible (Debian/Ubuntu, as root); elsewhere that one test is skipped.
browser:  ## install headless Chromium for the UI test if missing (apt-get, as root)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	       && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "note: Chromium could not be installed; the browser test will be skipped"

# The platform runs in the background of the same shell (which makes it ignore Ctrl-C) and the trap stops it when
# the Dagster UI in the foreground stops: one Ctrl-C stops both (tried in a pseudo-terminal).
dev: $(STAMP)  ## start the Dagster UI and the member platform on 127.0.0.1 (ports PMM_UI_PORT, PMM_PORTAL_PORT)
	$(BIN)/python -c "from pmm_pipeline.orchestration.instance import ensure_dagster_home; ensure_dagster_home()"
	@$(BIN)/pmm portal --host 127.0.0.1 --port $(PMM_PORTAL_PORT) & portal=$$!; \
	  trap 'kill $$portal 2>/dev/null; wait $$portal 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(PMM_UI_PORT)

# Not part of `make test`: takes several minutes on 2 cores (the cycle scenarios and the disclosure step included)
# and writes the figures to BENCHMARKS.md.
bench: $(STAMP)  ## time every stage against plain DuckDB and pandas (10^7 answers too); results in BENCHMARKS.md
	$(BIN)/python -m benchmarks.bench

clean:  ## remove the environment, the local data, the Dagster instance and the built docs
	rm -rf $(VENV) data .dagster_home site
