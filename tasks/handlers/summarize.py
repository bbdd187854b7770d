"""Summarize: the release's output, ReleaseFailedError naming every ASG's outcome, or, when some ASG
has spent this execution's history, the next execution of the chain (see tasks/domain/chain.py)."""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.domain.chain import summarize
from tasks.domain.notifications import ended
from tasks.domain.report import release_output


@contracts.step("summarize")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = event["settings"]
    summary = summarize(
        event["outcomes"],
        event["continuation"],
        settings,
        runtime.now(),
        event["execution_id"],
        event["execution_name"],
    )
    if summary.next is not None:
        runtime.logger.info(
            f"{summary.continuing} ASGs continue as a new execution",
            extra={"step": "Summarize", "finished": len(summary.finished)},
        )
        return summary.next
    if summary.announce is not None:
        runtime.notify(settings["event_bus_name"], ended(summary.announce, summary.finished))
    return release_output(summary.finished)
