"""One module per Task state: state ``ReadVersions`` runs ``tasks.handlers.read_versions.handler``."""

from __future__ import annotations

import importlib
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

STEPS = (
    "ResolveEvent",
    "ValidateInput",
    "LockAsg",
    "Discover",
    "ReadVersions",
    "SelectBatch",
    "WatchBooting",
    "Drain",
    "Terminate",
    "CheckReplacement",
    "PassCheckpoint",
    "AwaitApproval",
    "RollBack",
    "UnlockAsg",
    "Summarize",
    "ContinueAsNewExecution",
)

# Lambda functions that are not Task states: the EventBridge rules' targets (an upload or the
# schedule starts a release; an execution that ended is cleaned up after).
EVENT_TARGETS = ("StartRelease", "Cleanup")
FUNCTIONS = STEPS + EVENT_TARGETS


def module_name(step: str) -> str:
    """``ReadVersions`` -> ``read_versions``: the one name a step has everywhere."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", step).lower()


def handler_for(step: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    if step not in FUNCTIONS:
        raise KeyError(f"no function named {step!r}; functions: {', '.join(FUNCTIONS)}")
    module = importlib.import_module(f"tasks.handlers.{module_name(step)}")
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = module.handler
    return handler
