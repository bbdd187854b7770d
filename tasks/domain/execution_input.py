"""The execution input's rules beyond its JSON Schema: versions that parse, URLs that are URLs."""

from __future__ import annotations

import re
from typing import Any

from tasks.domain import chain, rollback, urls, versions
from tasks.errors import InvalidExecutionInputError

NOT_SETTINGS = ("asg_names", "continuation", chain.STARTED_BY)
# Auto Scaling processes a release relies on (suspend_processes may not name them), and the rest.
NEEDED_PROCESSES = ("Launch", "Terminate", "HealthCheck", "ReplaceUnhealthy", "AddToLoadBalancer")
SUSPENDABLE = ("AZRebalance", "ScheduledActions", "InstanceRefresh", "AlarmNotification")


def settings_from_input(event: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Apply defaults to a schema-valid input; raise naming the field when a value cannot work.

    The result is ValidateInput's output: the settings, and the Map's items (see chain.branches).
    """
    settings = {**defaults, **{k: v for k, v in event.items() if k not in NOT_SETTINGS}}
    continuation = event.get("continuation")
    problems = []
    target = settings["target_version"]
    if target is not None and not versions.is_version(target):
        problems.append(f"target_version: {target[:64]!r} is not a version (e.g. '1.0.274')")
    template_problem = urls.template_problem(settings["version_url"])
    if template_problem:
        problems.append(f"version_url: {template_problem}")
    if settings["approve_checkpoints"] and not settings["checkpoints"]:
        problems.append("approve_checkpoints: there is no checkpoint to approve; give checkpoints, e.g. [1, '50%']")
    problems += _rollback_problems(settings, event["asg_names"])
    needed = [p for p in settings["suspend_processes"] if p in NEEDED_PROCESSES]
    if needed:
        problems.append(
            f"suspend_processes: {', '.join(needed)} cannot be suspended: a release needs Auto Scaling to "
            f"launch, terminate, health-check, replace and register instances (allowed: {', '.join(SUSPENDABLE)})"
        )
    if settings["healthy_for_seconds"] >= settings["replacement_timeout_seconds"]:
        problems.append(
            f"healthy_for_seconds: {settings['healthy_for_seconds']} s leaves no time within "
            f"replacement_timeout_seconds ({settings['replacement_timeout_seconds']} s); make it shorter"
        )
    if continuation is not None:
        carried = sorted(a["asg_name"] for a in continuation["asgs"])
        if carried != sorted(event["asg_names"]):
            problems.append(f"continuation: carries {carried}, not the asg_names {sorted(event['asg_names'])}")
    if problems:
        raise InvalidExecutionInputError("execution input: " + "; ".join(problems))
    names = list(event["asg_names"])
    return {
        "asg_names": names,
        "settings": settings,
        "asgs": chain.branches(names, settings, continuation),
        "continuation": continuation,
    }


_SSM_NAME = re.compile(r"[a-zA-Z0-9_.\-/]{1,1011}")


def _rollback_problems(settings: dict[str, Any], asg_names: list[str]) -> list[str]:
    template = settings["pin_parameter"]
    if template is None:
        needs = "rollback_on_failure: needs pin_parameter, the SSM parameter your instances read their build from"
        return [needs] if settings["rollback_on_failure"] else []
    problem = rollback.pin_problem(template)
    if problem:
        return [f"pin_parameter: {problem}"]
    unnamed = [n for n in asg_names if not _SSM_NAME.fullmatch(rollback.pin_name(template, n))]
    if unnamed:
        return [f"pin_parameter: {unnamed[0][:64]!r} makes no SSM parameter name (letters, digits, _ . - / only)"]
    return []
