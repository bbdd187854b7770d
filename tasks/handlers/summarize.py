"""Summarize: the release's output, ReleaseFailedError naming every ASG's outcome, or, when some ASG
has spent this execution's history, the next execution of the chain (see tasks/domain/chain.py)."""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.domain.chain import CONTINUE, continue_as_new
from tasks.domain.notifications import ended
from tasks.domain.report import asg_report, release_output


@contracts.step("summarize")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    continuation, settings, now = event["continuation"], event["settings"], runtime.now()
    continuing = [o for o in event["outcomes"] if o["status"] == CONTINUE]
    finished = [
        *(continuation["finished"] if continuation else []),
        *(asg_report(o, now) for o in event["outcomes"] if o["status"] != CONTINUE),
    ]
    if continuing:
        runtime.logger.info(
            f"{len(continuing)} ASGs continue as a new execution",
            extra={"step": "Summarize", "finished": len(finished)},
        )
        return continue_as_new(
            continuing, finished, settings, event["execution_id"], event["execution_name"], continuation
        )
    if not settings["dry_run"]:
        release_id = continuation["first_execution"] if continuation else event["execution_id"]
        runtime.notify(settings["event_bus_name"], ended(release_id, finished))
    return release_output(finished)
