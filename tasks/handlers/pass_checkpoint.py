"""PassCheckpoint: the bake at a checkpoint is over. A watched alarm in ALARM fails the ASG's release
here; otherwise the ledger counts the checkpoint as passed (AwaitApproval may still hold it)."""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.domain.fleet import Progress


@contracts.step("pass_checkpoint")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    asg, progress = event["asg_name"], Progress.from_record(event["progress"])
    runtime.check_alarms(asg, event.get("alarm_names", []), "the release stopped at its checkpoint")
    passed = progress.update(checkpoints_passed=progress.checkpoints_passed + 1)
    runtime.logger.info(
        f"{asg} => checkpoint {passed.checkpoints_passed} passed after {passed.terminated_count} replaced",
        extra={"step": "PassCheckpoint", "asg_name": asg},
    )
    return passed.to_record()
