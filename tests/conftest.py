"""Suite-wide settings: loopback only, for every test.

No test may connect anywhere but this machine: moto gives instances 10.x addresses, and a probe of
one would reach whatever network the machine sits on. Two guards, both always on:
- every function the tests run (in this process, or in a ``local up`` they start, which inherits
  the environment) probes loopback addresses only (``PROBE_LOOPBACK_ONLY``, as the local stack
  sets it), and refuses any other without connecting;
- every socket this process opens may connect to loopback only; a test that tries anything else
  fails, naming the address.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

import pytest

from asg_terminator import loopback
from tests import iam_recorder

if TYPE_CHECKING:
    from collections.abc import Iterator

# Before any client exists: every AWS action a function makes in any test is recorded (tests/iam_recorder.py).
iam_recorder.install()

os.environ["PROBE_LOOPBACK_ONLY"] = "true"

# moto's interpreter logs every failed state (which our failure scenarios cause on purpose) with
# its whole parse tree; what a test needs is in the execution history it asserts on.
logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)


@pytest.fixture(autouse=True)
def loopback_only() -> Iterator[list[object]]:
    """Fail any test that tries to connect anywhere but loopback (moto's 10.x instances, AWS itself);
    yields the addresses refused, for a test that wants to show none was tried."""
    refused, lift = loopback.guard("tests")
    try:
        yield refused
    finally:
        lift()
    assert refused == [], f"a test tried to connect beyond loopback: {refused}"


@pytest.fixture(autouse=True)
def iam_grants_each_action(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test in which a function made an AWS action its role in infra/template.yaml does not grant."""
    recording = iam_recorder.RECORDING
    recording.test = request.node.nodeid
    with recording.lock:
        seen, seen_on = set(recording.made), set(recording.on)
    yield
    missing = iam_recorder.not_granted(recording.since(seen)) + iam_recorder.not_allowed_on(recording.on_since(seen_on))
    assert missing == [], "IAM: " + "; ".join(missing)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    iam_recorder.collected(items)


def pytest_deselected(items: list[pytest.Item]) -> None:
    iam_recorder.deselected(items)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    iam_recorder.reported(report)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object | None) -> None:
    """pytest-xdist's controller: a worker ended, with its records (tests/iam_recorder.py)."""
    iam_recorder.worker_finished(getattr(node, "workeroutput", {}))


def pytest_sessionfinish(session: pytest.Session) -> None:
    problems = iam_recorder.finished(session.config)
    if problems:
        session.config.stash[_IAM_PROBLEMS] = problems
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    problems = config.stash.get(_IAM_PROBLEMS, [])
    if problems:
        terminalreporter.write_sep("=", "IAM: granted actions no test made (tests/iam_recorder.py)", red=True)
        for problem in problems:
            terminalreporter.write_line(f"FAILED {problem}")


_IAM_PROBLEMS = pytest.StashKey[list[str]]()
