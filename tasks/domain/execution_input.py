"""The execution input's rules beyond its JSON Schema: versions that parse, URLs that are URLs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from tasks.domain import canary, chain, rollback, urls, versions
from tasks.errors import InvalidExecutionInputError

if TYPE_CHECKING:
    from collections.abc import Collection

NOT_SETTINGS = ("asg_names", "continuation", chain.STARTED_BY)
# Auto Scaling processes a release relies on (suspend_processes may not name them), and the rest.
NEEDED_PROCESSES = ("Launch", "Terminate", "HealthCheck", "ReplaceUnhealthy", "AddToLoadBalancer")
SUSPENDABLE = ("AZRebalance", "ScheduledActions", "InstanceRefresh", "AlarmNotification")


def settings_from_input(
    event: dict[str, Any],
    defaults: dict[str, Any],
    allowed_hosts: Collection[str] | None = None,
    event_bus: str | None = None,
) -> dict[str, Any]:
    """Apply defaults to a schema-valid input; raise naming the field when a value cannot work.

    ``allowed_hosts``: the literal hosts a version URL may name (the stack's AllowedVersionHosts);
    None where that list is not known (the operator's machine): the stack's ValidateInput checks it.
    ``event_bus``: the one bus the stack's functions may send to (EventBusName), None where unknown.

    The result is ValidateInput's output: the settings, and the Map's items (see chain.branches).
    """
    settings = {**defaults, **{k: v for k, v in event.items() if k not in NOT_SETTINGS}}
    continuation = event.get("continuation")
    problems = []
    target = settings["target_version"]
    if target is not None and not versions.is_version(target):
        problems.append(f"target_version: {target[:64]!r} is not a version (e.g. '1.0.274')")
    problems += _targets_problems(settings)
    template_problem = urls.template_problem(settings["version_url"], allowed_hosts)
    if template_problem:
        problems.append(f"version_url: {template_problem}")
    problems += _bus_problems(settings["event_bus_name"], event_bus)
    if settings["approve_checkpoints"] and not settings["checkpoints"]:
        problems.append("approve_checkpoints: there is no checkpoint to approve; give checkpoints, e.g. [1, '50%']")
    problems += _rollback_problems(settings, event["asg_names"])
    problems += _canary_problems(settings)
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
    if settings.get("canary_analysis") is not None:  # its own defaults, so later steps read every field
        settings["canary_analysis"] = canary.CanaryAnalysis.from_record(settings["canary_analysis"]).to_record()
    names = list(event["asg_names"])
    return {
        "asg_names": names,
        "settings": settings,
        "asgs": chain.branches(names, settings, continuation),
        "continuation": continuation,
    }


def _targets_problems(settings: dict[str, Any]) -> list[str]:
    targets = settings.get("asg_targets")
    if targets is None:
        return []
    if settings["target_version"] is not None:
        return ["asg_targets: give target_version or asg_targets (a sweep's per-ASG targets), not both"]
    bad = [n for n, t in targets.items() if t["version"] is not None and not versions.is_version(t["version"])]
    return [f"asg_targets: {bad[0]}: {targets[bad[0]]['version']!r} is not a version"] if bad else []


def _bus_problems(named: str | None, allowed: str | None) -> list[str]:
    """The bus named by its name or its ARN (``arn:aws:events:REGION:ACCOUNT:event-bus/NAME``; the
    account and region are the role's to check: it may put events on its own account's bus only)."""
    if named is None or allowed is None or named in (allowed, f"event-bus/{allowed}"):
        return []
    if named.startswith("arn:") and named.split(":", 5)[-1] == f"event-bus/{allowed}":
        return []
    return [
        f"event_bus_name: {named[:64]!r} is not {allowed!r}, the stack's EventBusName: the only bus "
        "the release may send its notifications to"
    ]


def _canary_problems(settings: dict[str, Any]) -> list[str]:
    """canary_analysis is judged at checkpoints, on datapoints CloudWatch can give over the bake."""
    given = settings.get("canary_analysis")
    if given is None:
        return []
    analysis = canary.CanaryAnalysis.from_record(given)
    problems = []
    if not settings["checkpoints"]:
        problems.append(
            "canary_analysis: needs checkpoints: the canary is judged at each checkpoint, after the bake; "
            "give checkpoints, e.g. [1, '50%']"
        )
    if analysis.marginal_score > analysis.pass_score:
        problems.append(
            f"canary_analysis.marginal_score: {analysis.marginal_score:g} is above pass_score "
            f"{analysis.pass_score:g}; it must be at most pass_score"
        )
    period = analysis.period_seconds
    if period not in canary.HIGH_RESOLUTION_PERIODS and period % 60:
        problems.append(
            f"canary_analysis.period_seconds: {period} is no CloudWatch period: 1, 5, 10, 30 or a multiple of 60"
        )
    elif period > settings["bake_seconds"]:
        problems.append(
            f"canary_analysis.period_seconds: {period} s is longer than bake_seconds ({settings['bake_seconds']} s): "
            "the bake would hold no datapoint"
        )
    return problems


_SSM_NAME = re.compile(r"[a-zA-Z0-9_.\-/]{1,1011}")


def _rollback_problems(settings: dict[str, Any], asg_names: list[str]) -> list[str]:
    template = settings["pin_parameter"]
    if template is None:
        needs = "rollback_on_failure: needs pin_parameter, the SSM parameter your instances read their build from"
        return [needs] if settings["rollback_on_failure"] else []
    problem = rollback.pin_problem(template)
    if problem:
        return [f"pin_parameter: {problem}"]
    split = [n for n in asg_names if "/" in n]
    if split:
        return [f"pin_parameter: ASG {split[0][:64]!r} has a '/' in its name: its pin would not be one path segment"]
    unnamed = [n for n in asg_names if not _SSM_NAME.fullmatch(rollback.pin_name(template, n))]
    if unnamed:
        return [f"pin_parameter: {unnamed[0][:64]!r} makes no SSM parameter name (letters, digits, _ . - / only)"]
    return []
