# Twinsync: `make run` starts the local stack, `make test` runs the tests.
# Every target sets up what it needs (the .venv with the pinned dependencies) first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The security scanner's own venv: checkov's pins clash with ours (infra/scan.py).
SCAN_VENV := .venv-scan
STACK ?= devstack/stack.toml
PYTEST_ARGS ?=

.PHONY: help venv scan-venv browser run test test-all test-stack lint format package scan bench clean

help:
	@echo "make run      start the local stack (embedded AWS, sandbox Jiras, two nodes)"
	@echo "make test     lint and run the default test suite (unit, functional, stack)"
	@echo "make test-all also run the suites marked slow"
	@echo "make package  build the deployable CloudFormation template into out/, lint and scan it"
	@echo "make bench    run the benchmarks in bench/"

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-cli.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "pip<26.3"
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	# the `twinsync` command line (twinsync_cli/), editable: .venv/bin/twinsync
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

venv: $(VENV)/.installed

$(SCAN_VENV)/.installed: requirements-scan.txt
	test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install -q --disable-pip-version-check "pip<26.3"
	$(SCAN_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements-scan.txt
	touch $@

scan-venv: $(SCAN_VENV)/.installed

# The browser tests (tests/stack/test_console.py) drive Debian's chromium through Playwright
# (pinned in requirements-dev.txt, launched with executable_path: Playwright's own browser
# download is never used). Installed here when missing; needs root, as on CI.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

run: venv
	$(PY) -m devstack --stack $(STACK)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint scan-venv browser
	$(PY) -m pytest -m "not slow" -n 2 $(PYTEST_ARGS)

test-all: lint scan-venv browser
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

test-stack: venv browser
	$(PY) -m pytest -m stack $(PYTEST_ARGS)

package: venv scan-venv
	$(PY) -m infra.package

scan: venv scan-venv
	$(PY) -m infra.scan

bench: venv
	$(PY) -m bench

clean:
	rm -rf out .devstack .pytest_cache .ruff_cache .venv-scan
