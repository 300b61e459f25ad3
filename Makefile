# Two commands do all the set-up on a fresh machine:
#   make demo      evaluate every registered model on the embedded demo set and print the table
#   make test      run the fast test tier (unit tests, tiny networks, Set5), about a minute on 2 quiet cores
# and, for the rest:
#   make test-all  every tier (fast, golden, e2e) in parallel, each test under a time limit; CI runs this
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || echo python3)
PYTEST := $(PY) -m pytest -n auto --dist loadfile

.PHONY: demo test test-all

demo: $(VENV)/.installed
	$(PY) test_demo.py

# pytest exits 5 when it collects nothing: that is a broken checkout, so it fails like any error.
test: $(VENV)/.installed
	$(PYTEST) --timeout 300 tests/fast
	@echo "fast tier only: 'make test-all' also runs tests/golden (reference figures on Set14/B100, faithful SRneXt) and tests/e2e (sweeps, Ray, downloads, the browser)"

test-all: $(VENV)/.installed
	$(PYTEST) --timeout 900 tests

$(VENV)/.installed: requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	touch $@
