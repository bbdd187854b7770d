VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo check test

# A virtual environment with the project and its dev tools, rebuilt when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

# The main job: a whole release on the local stack with a simulated fleet.
demo: setup
	$(VENV)/bin/asg-terminator demo

# Everything CI runs (the README's test command).
check: test

test: setup
	$(PY) -m pytest -q
