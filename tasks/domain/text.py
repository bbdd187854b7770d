"""Wording shared by the release's messages: lists cut to a readable length, why a policy sets an
instance aside, and the original tool's decision line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasks.domain import versions

if TYPE_CHECKING:
    from tasks.domain.fleet import Fleet, Instance
    from tasks.domain.policy import Policy

LISTED = 10  # instances named in one message; an error cause must stay readable (and under 32 KB)


def listed(items: list[str], separator: str) -> str:
    """The first few items, then how many more: '... i-9 HTTP 503 and 1990 more'."""
    shown = separator.join(items[:LISTED])
    return shown if len(items) <= LISTED else f"{shown} and {len(items) - LISTED} more"


def set_aside(instance: Instance, policy: Policy) -> str:
    """Why a policy sets this instance aside, in the words of the input field that says so."""
    version = instance.version or "an unread version"
    if instance.standby:
        return f"in Standby on {version} (standby_instances: {policy.standby_instances})"
    return f"protected from scale-in on {version} (protected_instances: {policy.protected_instances})"


def decision_line(fleet: Fleet, count: int) -> str:
    """The original tool's readable log line."""
    read = [i.version for i in fleet.in_service if i.version is not None]
    return (
        f"{fleet.asg_name} => lowest version {versions.lowest(read)}, "
        f"highest version {versions.highest(read)}, {count} instances to terminate"
    )
