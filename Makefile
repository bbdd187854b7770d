VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo check lint types test lock asl

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

# Everything CI runs (the README's test command): lint, format, strict types, the tests with
# branch coverage (tasks/ at 90% or more, its pure domain at 100%).
check: lint types test
	$(VENV)/bin/coverage report --include='tasks/domain/*' --fail-under=100

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: setup
	$(VENV)/bin/mypy

# In parallel (pytest-xdist), a worker per core, each test file in one worker: most of the suite's
# time is moto working or the workflow's real waits, and a file's tests may share module fixtures;
# the 25 slowest are listed at the end.
test: setup
	$(PY) -m pytest -q -n auto --dist loadfile --durations=25 --cov --cov-report=term

# The state machine is written in state_machines/build.py: this renders state_machines/release.asl.json
# (committed: SAM deploys it, reviews read its diffs) and tasks/domain/asl_paths.py (the stretches the
# history budget charges). tests/infra/test_asl_builder.py fails when either differs from the rendering.
asl: setup
	$(PY) -m state_machines.build

# The Lambda package's lock (requirements.txt): pyproject.toml's dependencies that tasks/ imports,
# resolved with pip-tools (in build/, ignored by git) and every file's hash. Asks the package index.
lock: setup
	python3 -m venv build/lock-venv
	build/lock-venv/bin/pip install -q 'pip-tools==7.6.2'
	$(PY) -m asg_terminator.package_lock build/lock-venv/bin/pip-compile
