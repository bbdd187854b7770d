"""Summarize: the release's output, or ReleaseFailedError naming every ASG's outcome."""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.domain.report import summarize


@contracts.step("summarize")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return summarize(event["outcomes"], runtime.now())
