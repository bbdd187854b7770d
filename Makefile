PY ?= .venv/bin/python

.PHONY: check test demo

# Everything CI runs; the README's test command.
check: test

test:
	$(PY) -m pytest -q

demo:
	$(PY) -m asg_terminator.cli demo
