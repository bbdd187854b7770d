"""Summarize: the release's output, ReleaseFailedError naming every ASG's outcome, or, when some ASG
has spent this execution's history, the next execution of the chain (see tasks/domain/chain.py)."""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.domain.chain import CONTINUE, continue_as_new
from tasks.domain.notifications import ended
from tasks.domain.report import asg_report, summarize


def _ended(event: dict[str, Any], reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The release's output (or ReleaseFailedError), after its Release Ended notification."""
    settings = event["settings"]
    if not settings["dry_run"]:
        continuation = event["continuation"]
        release_id = continuation["first_execution"] if continuation else event["execution_id"]
        runtime.notify(settings["event_bus_name"], ended(release_id, reports))
    return summarize([], runtime.now(), reports)


@contracts.step("summarize")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    continuation = event["continuation"]
    earlier = continuation["finished"] if continuation else []
    done = [o for o in event["outcomes"] if o["status"] != CONTINUE]
    continuing = [o for o in event["outcomes"] if o["status"] == CONTINUE]
    if not continuing:
        return _ended(event, [*earlier, *(asg_report(o, runtime.now()) for o in done)])
    finished = [*earlier, *(asg_report(o, runtime.now()) for o in done)]
    runtime.logger.info(
        f"{len(continuing)} ASGs continue as a new execution", extra={"step": "Summarize", "finished": len(finished)}
    )
    return continue_as_new(
        continuing, finished, event["settings"], event["execution_id"], event["execution_name"], continuation
    )
