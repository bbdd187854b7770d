"""SelectBatch: decide the next batch to terminate, convergence, or waiting."""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.domain.fleet import Fleet, Progress
from tasks.domain.release import Policy, decide


@contracts.step("select_batch")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    fleet = Fleet.from_record(event["fleet"])
    progress = decide(
        fleet, Progress.from_record(event["progress"]), Policy.from_settings(event["settings"]), runtime.now()
    )
    decision = progress.decision
    runtime.logger.info(
        decision.message if decision else "no decision",
        extra={"step": "SelectBatch", "asg_name": fleet.asg_name, "target_version": progress.target_version},
    )
    return progress.to_record()
