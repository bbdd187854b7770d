"""A small interpreter of the release state machine's own definition (state_machines/release.asl.json),
one state at a time, so the simulation can interleave executions step by step.

It follows what the definition declares: Next, Choice rules, Map (its ItemsPath, ItemSelector and
ItemProcessor), Wait, Pass, Succeed, Fail, and for Task states their Parameters, ResultSelector,
ResultPath, OutputPath, Retry (interval, backoff, cap, full jitter) and Catch. The JSONPath it
evaluates is the subset the definition uses (``$.a.b[0]``, ``$$.Map.Item.Value``); anything else it
meets raises ``UnsupportedDefinitionError``, so the definition cannot grow past the interpreter unnoticed.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asg_terminator.paths import RELEASE_ASL

if TYPE_CHECKING:
    from collections.abc import Callable

DEFINITION = RELEASE_ASL
_MISSING = object()
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_FUNCTION = re.compile(r"^\$\{([A-Za-z]+)FunctionArn\}$")


class UnsupportedDefinitionError(Exception):
    """The definition uses something this interpreter does not know."""


class TaskError(Exception):
    """A Task's error as Step Functions names it (the exception's class name), with its cause."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(error)
        self.error, self.cause = error, cause


@functools.cache
def load() -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(DEFINITION.read_text(encoding="utf-8"))
    return definition


def _steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    position = 0
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            raise UnsupportedDefinitionError(f"JSONPath {path!r}")
        steps.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    return steps


def get(path: str, data: Any, context: dict[str, Any]) -> Any:
    """The value at ``path`` (``$...`` in the data, ``$$...`` in the context), or _MISSING."""
    value: Any
    if path.startswith("$$"):
        value, rest = context, path[2:]
    elif path.startswith("$"):
        value, rest = data, path[1:]
    else:
        raise UnsupportedDefinitionError(f"JSONPath {path!r}")
    for step in _steps(rest):
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return _MISSING
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                return _MISSING
            value = value[step]
    return value


def resolved(path: str, data: Any, context: dict[str, Any]) -> Any:
    value = get(path, data, context)
    if value is _MISSING:
        raise TaskError("States.Runtime", f"the JSONPath {path} could not be found in the input")
    return value


def put(path: str | None, data: Any, result: Any) -> Any:
    """ResultPath: ``result`` placed into a copy of ``data`` (None: the data unchanged)."""
    if path is None:
        return data
    if path == "$":
        return result
    steps = _steps(path[1:])
    top: dict[str, Any] = dict(data) if isinstance(data, dict) else {}
    node = top
    for step in steps[:-1]:
        if not isinstance(step, str):
            raise UnsupportedDefinitionError(f"ResultPath {path!r}")
        child = node.get(step)
        node[step] = dict(child) if isinstance(child, dict) else {}
        node = node[step]
    last = steps[-1]
    if not isinstance(last, str):
        raise UnsupportedDefinitionError(f"ResultPath {path!r}")
    node[last] = result
    return top


def parameters(template: Any, data: Any, context: dict[str, Any]) -> Any:
    """Parameters / ItemSelector / ResultSelector: keys ending in ``.$`` are paths."""
    if isinstance(template, dict):
        built = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str) or value.startswith("States."):
                    raise UnsupportedDefinitionError(f"intrinsic function {value!r}")
                built[key[:-2]] = resolved(value, data, context)
            else:
                built[key] = parameters(value, data, context)
        return built
    if isinstance(template, list):
        return [parameters(v, data, context) for v in template]
    return template


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "StringEquals": lambda a, b: isinstance(a, str) and a == b,
    "BooleanEquals": lambda a, b: isinstance(a, bool) and a == b,
    "NumericEquals": lambda a, b: _number(a) and a == b,
    "NumericGreaterThan": lambda a, b: _number(a) and a > b,
    "NumericGreaterThanEquals": lambda a, b: _number(a) and a >= b,
    "NumericLessThan": lambda a, b: _number(a) and a < b,
    "NumericLessThanEquals": lambda a, b: _number(a) and a <= b,
}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def matches(rule: dict[str, Any], data: Any, context: dict[str, Any]) -> bool:
    """One Choice rule (And, Or, Not, IsPresent, IsNull and the comparators above)."""
    if "And" in rule:
        return all(matches(r, data, context) for r in rule["And"])
    if "Or" in rule:
        return any(matches(r, data, context) for r in rule["Or"])
    if "Not" in rule:
        return not matches(rule["Not"], data, context)
    value = get(rule["Variable"], data, context)
    if "IsPresent" in rule:
        return (value is not _MISSING) == bool(rule["IsPresent"])
    if "IsNull" in rule:
        return value is not _MISSING and (value is None) == bool(rule["IsNull"])
    for name, compare in _COMPARATORS.items():
        if name in rule:
            return value is not _MISSING and compare(value, rule[name])
    raise UnsupportedDefinitionError(f"Choice rule {sorted(rule)}")


def function_of(state: dict[str, Any]) -> tuple[str, bool]:
    """The handler a Task state runs (``ReadVersions``), and whether it waits for a task token."""
    resource = state["Resource"]
    if resource.endswith(".waitForTaskToken"):
        name = _FUNCTION.match(state["Parameters"]["FunctionName"])
        if name is None:
            raise UnsupportedDefinitionError(f"Task resource {resource!r}")
        return name.group(1), True
    found = _FUNCTION.match(resource)
    if found is None:
        raise UnsupportedDefinitionError(f"Task resource {resource!r}")
    return found.group(1), False


@dataclass
class Branch:
    """One thread of an execution: the top level, or one iteration of a Map."""

    execution: str
    states: dict[str, Any]
    at: str
    data: Any
    context: dict[str, Any]
    ready_at: float
    asg: str | None = None
    parent: Branch | None = None
    index: int = 0
    children: list[Branch] = field(default_factory=list)
    attempts: dict[int, int] = field(default_factory=dict)
    done: bool = False
    output: Any = None
    error: TaskError | None = None
    waiting_token: bool = False  # a waitForTaskToken Task, answered by the simulation's approver

    @property
    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.states[self.at]
        return state


def retry_delay(retrier: dict[str, Any], attempt: int, jitter: float) -> float:
    delay = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** attempt
    if "MaxDelaySeconds" in retrier:
        delay = min(delay, float(retrier["MaxDelaySeconds"]))
    return delay * jitter if retrier.get("JitterStrategy") == "FULL" else delay


def retrier_for(state: dict[str, Any], error: str) -> tuple[int, dict[str, Any]] | None:
    for n, retrier in enumerate(state.get("Retry", [])):
        if error in retrier["ErrorEquals"] or "States.ALL" in retrier["ErrorEquals"]:
            return n, retrier
    return None


def catcher_for(state: dict[str, Any], error: str) -> dict[str, Any] | None:
    for catcher in state.get("Catch", []):
        names = catcher["ErrorEquals"]
        if error in names or "States.ALL" in names or ("States.TaskFailed" in names and error != "States.Timeout"):
            found: dict[str, Any] = catcher
            return found
    return None
