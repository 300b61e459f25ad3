# Two commands do all the set-up on a fresh machine:
#   make demo   evaluate every registered model on the embedded demo set and print the table
#   make test   run the test suite
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test

demo: $(VENV)/.installed
	$(PY) test_demo.py

# pytest exits 5 when it collects nothing: that is a broken checkout, so it fails like any error.
test: $(VENV)/.installed
	$(PY) -m pytest

$(VENV)/.installed: requirements.txt constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	touch $@
