"""rollback_on_failure: an ASG whose release failed converges back onto the version it replaced.

New instances boot the build ``pin_parameter`` names: an SSM parameter the instances' boot script
reads. The release writes its target there before its first termination, so every replacement boots
the target even when a newer build is uploaded meanwhile. When an ASG's release fails after it
terminated instances, RollBack writes the previous version there and the same loop converges the
ASG onto it; the release still fails, and the ASG's outcome says it was rolled back.

While rolling back, the release does not stop for its alarms (the rollback is the remedy for what
they saw), has no checkpoints, and replaces instances whose version cannot be read (a broken build
often answers nothing): under the same healthy floor as ever.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasks.domain import history_budget, versions
from tasks.domain.report import lambda_error_message
from tasks.errors import NothingToRollBackError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tasks.domain.fleet import Progress

CAUSE_CHARS = 500


def previous_version(versions_before: Mapping[str, int] | None, target: str) -> str | None:
    """The version most instances ran when the release started, other than the target (the highest
    of equally common ones); None when every instance read ran the target or none could be read."""
    others = {
        v: count
        for v, count in (versions_before or {}).items()
        if v not in (versions.UNKNOWN, versions.OTHER_VERSIONS) and not versions.same(v, target)
    }
    if not others:
        return None
    return max(others, key=lambda v: (others[v], versions.parse(v)))


def begin(progress: Progress, asg_name: str, error: str, cause: str | None) -> Progress:
    """The ledger that converges back: the previous version is the target, and what failed is kept."""
    target = progress.target_version
    if progress.terminated_count == 0:  # every instance of its batches had already left the group
        raise NothingToRollBackError(f"{asg_name}: {error} before any instance was terminated: nothing to roll back")
    previous = None if target is None else previous_version(progress.versions_before, target)
    if target is None or previous is None:
        raise NothingToRollBackError(
            f"{asg_name}: {error} and nothing to roll back to: no version other than {target} was read "
            f"when the release started ({progress.versions_before})"
        )
    message = lambda_error_message(cause or "")[:CAUSE_CHARS]
    return progress.spend(history_budget.ROLLBACK).update(
        target_version=previous,
        rollback_of={"target_version": target, "error": error, "cause": message},
        pending=None,
        decision=None,
        waiting_since=None,
        finished_at=None,
        versions_after=None,
    )


ASG_NAME = "{asg_name}"
PIN_PREFIX = "/asg-terminator/"


def pin_name(template: str, asg_name: str) -> str:
    """The SSM parameter that names the build of ``asg_name``'s new instances."""
    return template.replace(ASG_NAME, asg_name)


def pin_problem(template: str) -> str | None:
    """Why ``pin_parameter`` cannot be used, or None. Each ASG has its own parameter, so one ASG
    rolling back never changes what another's replacements boot; and the release may only write
    under /asg-terminator/ (its IAM policy says so)."""
    if not template.startswith(PIN_PREFIX):
        return f"{template[:64]!r} is not under {PIN_PREFIX} (the only path the release may write)"
    if ASG_NAME not in template:
        return f"{template[:64]!r} has no {ASG_NAME}: each ASG needs its own parameter"
    if f"/{ASG_NAME}/" not in template:
        # /asg-terminator/prod-{asg_name}/build would let ASG x write ASG prod-x's pin.
        return (
            f"{template[:64]!r} has {ASG_NAME} only inside a path segment: it must be one whole, "
            f"e.g. /asg-terminator/{ASG_NAME}/build"
        )
    return None
