"""Builders for domain values: one fixed clock, instances and fleets with readable defaults."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tasks import contracts
from tasks.domain.fleet import Decision, Fleet, Instance, Progress, iso
from tasks.domain.policy import Policy
from tasks.domain.report import asg_report, release_output

ASG = "live_asg_web"
TARGET = "1.0.274"
OLD = "1.0.273"
RELEASE_ID = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:test"
T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
_UNSET: Any = object()


def at(seconds: float) -> datetime:
    """The fixed clock, ``seconds`` after T0."""
    return T0 + timedelta(seconds=seconds)


def stamp(seconds: float) -> str:
    """``at(seconds)`` as the ISO text the ledger stores."""
    return iso(at(seconds))


def instance(
    id: str,
    version: str | None = TARGET,
    *,
    lifecycle: str = "InService",
    health: str = "Healthy",
    az: str = "us-east-1a",
    reason: str | None = _UNSET,
) -> Instance:
    """An instance; an unread version gets a probe-like reason unless one is given."""
    if reason is _UNSET:
        reason = None if version is not None else "HTTP 503"
    return Instance(
        id=id,
        lifecycle=lifecycle,
        health=health,
        az=az,
        url=f"http://10.0.0.{sum(map(ord, id)) % 250 + 1}:80/version",
        version=version,
        reason=reason,
    )


def fleet(*instances: Instance, desired: int | None = None, name: str = ASG) -> Fleet:
    """A fleet whose desired capacity defaults to the number of InService instances; ``instances``
    are given oldest launched first, as Discover lists them."""
    if desired is None:
        desired = sum(1 for i in instances if i.in_service)
    return Fleet(asg_name=name, desired=desired, min_size=0, max_size=max(desired * 2, 1), instances=tuple(instances))


def policy(**changes: Any) -> Policy:
    """A policy from the input schema's defaults (Policy has none of its own), with ``changes``
    given as Policy's fields (checkpoints a tuple, canary_analysis a bool)."""
    return replace(Policy.from_settings(settings()), **changes)


def settings(**changes: Any) -> dict[str, Any]:
    """A complete settings record: the execution input with every schema default applied, as
    ValidateInput produces it (tests/unit/test_contracts.py pins the defaults themselves)."""
    return {**contracts.defaults("validate_input.input"), **changes}


def decision_of(progress: Progress) -> Decision:
    assert progress.decision is not None, "decide() returned no decision"
    return progress.decision


def summarized(outcomes: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """What Summarize (tasks/handlers/summarize.py) returns for the outcomes of an execution that is
    not part of a chain: the release's output from every ASG's report, or ReleaseFailedError."""
    return release_output([asg_report(o, now) for o in outcomes])


def summarize_event(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """Summarize's input, as the ASL builds it, for an execution that is not part of a chain."""
    return {
        "outcomes": outcomes,
        "settings": settings(),
        "continuation": None,
        "execution_id": "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:test",
        "execution_name": "test",
    }


OUTCOME_STATES = {
    "CONVERGED": "AsgConverged",
    "FAILED": "AsgFailed",
    "PLANNED": "AsgPlanned",
    "CONTINUE": "AsgContinues",
}


def outcome_progress(record: dict[str, Any], status: str = "CONVERGED") -> dict[str, Any]:
    """The ledger as the ASL's outcome state for ``status`` carries it into the Map's output (read
    from release.asl.json, so these tests follow the definition)."""
    from asg_terminator.paths import RELEASE_ASL

    states = json.loads(RELEASE_ASL.read_text())["States"]["ReleaseEachAsg"]["ItemProcessor"]["States"]
    selection: dict[str, str] = states[OUTCOME_STATES[status]]["Parameters"]["progress"]
    return {key.removesuffix(".$"): record[path.removeprefix("$.progress.")] for key, path in selection.items()}
