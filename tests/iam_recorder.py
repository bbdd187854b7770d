"""Every AWS action each function makes in the tests, against what its role in infra/template.yaml grants.

A botocore ``before-call`` hook (in ``botocore.handlers.BUILTIN_HANDLERS``, as moto installs its own,
so every client any session creates carries it) records ``(function, service:Action)`` for each call
made while one of our functions runs. The function running is found on the calling thread's stack:
the outermost frame in ``tasks/handlers/<module>.py`` names it (``lock_asg`` -> ``LockAsg``), whether
the test calls the handler directly (functional tests) or the Lambda Invoke server runs it for the
interpreter (workflow tests). A call with a moto frame nearer than that (the emulator itself calling
AWS) is not the function's.

Two checks:
- after each test, every action it made is granted to that function's role (the test errors at
  teardown otherwise, naming function and action): a missing permission fails CI, not a first deploy;
- at the end of a run that ran every functional and workflow test, every action a role grants was
  made by some test (``tests/infra/test_iam_is_what_the_tests_use.py``, moved to run last; on a
  partial run it is skipped, saying why). Under pytest-xdist each worker records only its own tests:
  each hands its records to the controller when it finishes, and the controller makes the check
  once every worker is done (``whole_run``), failing the run with what it found.

The roles are read at the action level (an Allow statement naming the action), and at the resource
level where a role names its resource (the bus of ``events:PutEvents``, the pin's ``ssm`` parameter),
with the stack's default parameters and the tests' account and region. Tag conditions are not
evaluated here; ``tests/infra/test_template.py`` checks them statement by statement.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import moto
from botocore import handlers as botocore_handlers
from samtranslator.yaml_helper import yaml_parse

from asg_terminator import stack
from asg_terminator.paths import SAM_TEMPLATE
from tasks.handlers import FUNCTIONS, module_name

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import CodeType, FrameType

    import pytest

HANDLERS_DIR = Path(__file__).resolve().parent.parent / "tasks" / "handlers"
TESTS_DIR = Path(__file__).resolve().parent
# The suites whose runs the second check needs whole (the others call no function against AWS).
SUITES = ("functional", "workflow")
CHECK_LAST = "tests/infra/test_iam_is_what_the_tests_use.py::test_every_granted_action_was_made_by_some_test"

# IAM prefixes that are not the service's signing name, and operations whose IAM action has another name.
_PREFIX = {"monitoring": "cloudwatch"}
_ACTION = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:HeadBucket": "s3:ListBucket",
}
_BY_MODULE = {module_name(f): f for f in FUNCTIONS}
_MOTO = os.path.dirname(moto.__file__) + os.sep  # noqa: PTH120 - compared with co_filename as it is


@dataclass
class Recording:
    made: dict[tuple[str, str], str] = field(default_factory=dict)  # (function, action) -> first test
    # (function, action, ARN) -> first test, for the actions whose resource the roles narrow by name
    on: dict[tuple[str, str, str], str] = field(default_factory=dict)
    test: str = ""  # the test running now
    lock: threading.Lock = field(default_factory=threading.Lock)

    def since(self, seen: set[tuple[str, str]]) -> set[tuple[str, str]]:
        with self.lock:
            return set(self.made) - seen

    def on_since(self, seen: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        with self.lock:
            return set(self.on) - seen


RECORDING = Recording()


@cache
def _function_of(code: CodeType) -> str | None:
    """``LockAsg`` for code in tasks/handlers/lock_asg.py; ``moto`` for the emulator's; else None."""
    path = Path(code.co_filename)
    if path.parent == HANDLERS_DIR:
        return _BY_MODULE.get(path.stem)
    return "moto" if code.co_filename.startswith(_MOTO) else None


_THREAD = threading.local()  # the function a pool's worker thread works for (see _submit)


def _running_function(frame: FrameType | None) -> str | None:
    found = None
    while frame is not None:
        owner = _function_of(frame.f_code)
        if owner == "moto" and found is None:
            return None  # moto calling AWS on its own behalf (its interpreter invoking a Lambda)
        if owner is not None and owner != "moto":
            found = owner  # keep walking out: the outermost handler is the function that was invoked
        frame = frame.f_back
    return found or getattr(_THREAD, "function", None)


_submit_unhooked = ThreadPoolExecutor.submit


def _submit(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
    """A function's work in a thread pool (tasks/ownership.py terminates a batch in one) is still its own."""
    function = _running_function(sys._getframe(1))
    if function is None:
        return _submit_unhooked(self, fn, *args, **kwargs)

    def run(*args: Any, **kwargs: Any) -> Any:
        _THREAD.function = function
        try:
            return fn(*args, **kwargs)
        finally:
            _THREAD.function = None

    return _submit_unhooked(self, run, *args, **kwargs)


def _record(model: Any, params: dict[str, Any], **_: Any) -> None:
    function = _running_function(sys._getframe(1))
    if function is None:
        return
    service = model.service_model.signing_name
    action = f"{_PREFIX.get(service, service)}:{model.name}"
    key = (function, _ACTION.get(action, action))
    arns = _resources(key[1], params)
    with RECORDING.lock:
        RECORDING.made.setdefault(key, RECORDING.test)
        for arn in arns:
            RECORDING.on.setdefault((*key, arn), RECORDING.test)


# The tests' account and region, and the stack's defaults: what the roles' ARNs render to here.
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "asg-terminator",
}
# The stack's resources a role's ARN names (``${FleetBucket.Arn}``), as the tests create them.
RESOURCES = {"FleetBucket.Arn": f"arn:aws:s3:::{stack.FLEET_BUCKET}"}


def _resources(action: str, request: dict[str, Any]) -> list[str]:
    """The ARNs a call names, for the actions the roles allow on named resources only (the bus, the pin,
    the fleet bucket's objects). ``request``: the serialized request (before-call's ``params``): JSON for
    EventBridge and SSM; for S3 its URL (the bucket in the host, or first in the path)."""
    if action in ("s3:GetObject", "s3:PutObject"):
        url = urlsplit(str(request.get("url", "")))
        host, path = url.hostname or "", unquote(url.path).lstrip("/")
        virtual = host.split(".s3.", 1)[0] if ".s3." in host else ""  # bucket.s3.amazonaws.com/key
        return [f"arn:aws:s3:::{virtual}/{path}" if virtual else f"arn:aws:s3:::{path}"]
    if action not in ("events:PutEvents", "ssm:GetParameter", "ssm:PutParameter"):
        return []
    params = json.loads(request.get("body") or b"{}")
    account = f"{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}"
    if action == "events:PutEvents":
        buses = {str(e.get("EventBusName") or "default") for e in params.get("Entries", [])}
        return sorted(b if b.startswith("arn:") else f"arn:aws:events:{account}:event-bus/{b}" for b in buses)
    if action in ("ssm:GetParameter", "ssm:PutParameter"):
        return [f"arn:aws:ssm:{account}:parameter/{str(params.get('Name', '')).lstrip('/')}"]
    return []


def install() -> None:
    """Hook every botocore session made from now on (the functions' clients are made lazily, later)."""
    ThreadPoolExecutor.submit = _submit  # type: ignore[method-assign,assignment]
    spec = ("before-call.*.*", _record)
    if spec not in botocore_handlers.BUILTIN_HANDLERS:
        botocore_handlers.BUILTIN_HANDLERS.append(spec)
    import boto3

    if boto3.DEFAULT_SESSION is not None:  # made before this ran: its clients made later get the hook too
        boto3.DEFAULT_SESSION._session.register(spec[0], _record)  # type: ignore[arg-type]


@cache
def granted() -> dict[str, frozenset[str]]:
    """Each function's role, as the actions its Allow statements name."""
    template: dict[str, Any] = yaml_parse(SAM_TEMPLATE.read_text())
    roles = {}
    for name in FUNCTIONS:
        actions: set[str] = set()
        for policy in template["Resources"][f"{name}Function"]["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                if statement["Effect"] == "Allow":
                    named = statement["Action"]
                    actions.update([named] if isinstance(named, str) else named)
        roles[name] = frozenset(actions)
    return roles


def not_granted(made: set[tuple[str, str]]) -> list[str]:
    roles = granted()
    return sorted(
        f"{function} made {action} (in {RECORDING.made[(function, action)]}), which its role does not grant"
        for function, action in made
        if action not in roles[function]
    )


def _rendered(resource: Any, parameters: dict[str, Any]) -> str | None:
    """A statement's Resource as an ARN pattern here, or None where it cannot be told (a GetAtt, an If)."""
    if isinstance(resource, str):
        return resource
    text, names = (resource.get("Fn::Sub"), {}) if isinstance(resource, dict) else (None, {})
    if isinstance(text, list):
        text, names = text
    if not isinstance(text, str) or names:
        return None
    values = {**PSEUDO, **RESOURCES, **{k: str(v.get("Default", "")) for k, v in parameters.items()}}
    return re.sub(r"\$\{([\w:.]+)\}", lambda m: values.get(m.group(1), "${" + m.group(1) + "}"), text)


@cache
def granted_on() -> dict[tuple[str, str], tuple[str | None, ...]]:
    """Per function and action, the ARN patterns its Allow statements name (None: cannot be told here)."""
    template: dict[str, Any] = yaml_parse(SAM_TEMPLATE.read_text())
    patterns: dict[tuple[str, str], tuple[str | None, ...]] = {}
    for name in FUNCTIONS:
        for policy in template["Resources"][f"{name}Function"]["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                named = statement["Action"]
                for action in [named] if isinstance(named, str) else named:
                    rendered = _rendered(statement["Resource"], template.get("Parameters", {}))
                    patterns[(name, action)] = (*patterns.get((name, action), ()), rendered)
    return patterns


def not_allowed_on(made: set[tuple[str, str, str]]) -> list[str]:
    """Calls on a resource no statement granting the action names (the bus, the pin)."""
    patterns = granted_on()
    return sorted(
        f"{function} made {action} on {arn} (in {RECORDING.on[(function, action, arn)]}), "
        "which its role does not grant on that resource"
        for function, action, arn in made
        if not any(p is None or fnmatch.fnmatchcase(arn, p) for p in patterns.get((function, action), ()))
        and (function, action) in patterns
    )


def never_made() -> list[str]:
    with RECORDING.lock:
        made = set(RECORDING.made)
    return sorted(
        f"{function}Function is granted {action}, which no test made"
        for function, actions in granted().items()
        for action in actions
        if (function, action) not in made
    )


# Granted, needed, and made through the function by no test, each with why. Keep it short: an entry
# that a test comes to make fails the check, so the list cannot outlive its reason.
NOT_MADE_IN_TESTS = {
    "LockAsgFunction is granted autoscaling:DescribeWarmPool, which no test made": (
        "read only to give back what an ended release left on a group with a warm pool (tasks/ownership.py), "
        "through the FleetReader.discover that tests/functional/test_warm_pool_through_the_functions.py shows "
        "UnlockAsg making"
    ),
    "CleanupFunction is granted autoscaling:DescribeWarmPool, which no test made": (
        "the same give-back read as UnlockAsg's, after an execution ended, on a group with a warm pool"
    ),
}


def unused_grants() -> list[str]:
    """After a whole run: the granted actions no test made, and the exemptions a test made after all."""
    unused = never_made()
    return [
        *(u for u in unused if u not in NOT_MADE_IN_TESTS),
        *(f"{e}: made after all, remove it from NOT_MADE_IN_TESTS" for e in NOT_MADE_IN_TESTS if e not in unused),
    ]


def dump(path: str) -> None:
    """What was made, per function (``ASG_TERMINATOR_IAM_RECORD=path``): to write a role from."""
    with RECORDING.lock:
        made = sorted(RECORDING.made.items())
    by_function: dict[str, dict[str, str]] = {}
    for (function, action), test in made:
        by_function.setdefault(function, {})[action] = test
    Path(path).write_text(json.dumps(by_function, indent=2) + "\n")


# ---- Was this run the whole suite? -----------------------------------------------------------------


@dataclass
class Run:
    expected: set[str] = field(default_factory=set)  # node ids in the suites, as collected
    finished: set[str] = field(default_factory=set)
    deselected: int = 0
    files: set[str] = field(default_factory=set)
    workers: int = 0  # xdist workers whose records the controller took in

    def partial(self) -> str | None:
        """Why this run cannot tell that a granted action is unused, or None when it can."""
        on_disk = {
            p.relative_to(TESTS_DIR.parent).as_posix() for s in SUITES for p in (TESTS_DIR / s).glob("test_*.py")
        }
        missing = sorted(on_disk - self.files)
        if missing:
            return (
                f"not every functional and workflow test file was collected ({len(missing)} missing, e.g. {missing[0]})"
            )
        if self.deselected:
            return f"{self.deselected} functional or workflow tests were deselected"
        unfinished = self.expected - self.finished
        if unfinished:
            return f"{len(unfinished)} functional or workflow tests did not run (e.g. {sorted(unfinished)[0]})"
        return None


RUN = Run()


def _in_suites(nodeid: str) -> bool:
    return any(nodeid.startswith(f"tests/{s}/") for s in SUITES)


def collected(items: list[pytest.Item]) -> None:
    """The check runs last; note what the run holds."""
    last = [i for i in items if i.nodeid == CHECK_LAST]
    items[:] = [i for i in items if i.nodeid != CHECK_LAST] + last
    RUN.expected = {i.nodeid for i in items if _in_suites(i.nodeid)}
    RUN.files = {nodeid.split("::", 1)[0] for nodeid in RUN.expected}


def deselected(items: list[pytest.Item]) -> None:
    RUN.deselected += sum(1 for i in items if _in_suites(i.nodeid))


def finished(config: pytest.Config) -> list[str]:
    """At the end of the session. An xdist worker hands its records to the controller; the controller
    of workers returns what the whole run found wrong (``whole_run``); a run in one process returns
    nothing here (its check is a test)."""
    output = getattr(config, "workeroutput", None)
    if output is not None:
        with RECORDING.lock:
            output["iam"] = {
                "made": [[*k, v] for k, v in RECORDING.made.items()],
                "on": [[*k, v] for k, v in RECORDING.on.items()],
                "expected": sorted(RUN.expected),
                "files": sorted(RUN.files),
                "deselected": RUN.deselected,
            }
        return []
    problems = whole_run() if RUN.workers else []
    if os.environ.get("ASG_TERMINATOR_IAM_RECORD"):
        dump(os.environ["ASG_TERMINATOR_IAM_RECORD"])
    return problems


def worker_finished(output: dict[str, Any]) -> None:
    """The controller takes in one worker's records (every worker collects the whole run's items)."""
    handed = output.get("iam")
    if handed is None:
        return  # a worker that died before its end: its tests did not all finish, and partial() says so
    with RECORDING.lock:
        for *key, test in handed["made"]:
            RECORDING.made.setdefault((key[0], key[1]), test)
        for *key, test in handed["on"]:
            RECORDING.on.setdefault((key[0], key[1], key[2]), test)
    RUN.workers += 1
    RUN.expected |= set(handed["expected"])
    RUN.files |= set(handed["files"])
    RUN.deselected = max(RUN.deselected, handed["deselected"])


def whole_run() -> list[str]:
    """The controller's check of a run across workers: what the test makes in a run in one process."""
    why = RUN.partial()
    if why is not None:
        return []  # as the test skips: only a run of every test shows an action is unused
    return [f"{CHECK_LAST}: {problem}" for problem in unused_grants()]


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workeroutput")


def reported(report: pytest.TestReport) -> None:
    if report.when == "teardown" or (report.when == "setup" and not report.passed):
        RUN.finished.add(report.nodeid)
