"""Alarms (``alarm_names``): while any of the named CloudWatch alarms is in ALARM, nothing more is
terminated and the ASG's release fails, naming the alarms; a name that is no alarm fails it too, at
the latest before its first termination."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasks.domain.text import listed
from tasks.errors import AlarmNotFoundError, AlarmTriggeredError

if TYPE_CHECKING:
    from tasks.domain.fleet import Progress

ALARM = "ALARM"


def watched(names: list[str], progress: Progress) -> list[str]:
    """The alarms this step checks: none while rolling back (rollback_on_failure), which is the
    remedy for what they saw."""
    return [] if progress.rollback_of is not None else names


def check(asg_name: str, names: list[str], states: dict[str, tuple[str, str]], outcome: str) -> None:
    """``states``: each existing alarm's (state, reason); ``outcome``: what stopping means here.
    Raises when a named alarm is missing or in ALARM."""
    missing = [n for n in names if n not in states]
    if missing:
        raise AlarmNotFoundError(
            f"{asg_name}: no CloudWatch alarm named {listed(missing, ', ')} in this account and region "
            f"(alarm_names); {outcome}"
        )
    firing = [f"{n} ({states[n][1]})" for n in names if states[n][0] == ALARM]
    if firing:
        raise AlarmTriggeredError(f"{asg_name}: alarm in ALARM: {listed(firing, '; ')}; {outcome}")
