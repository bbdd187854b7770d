"""UnlockAsg: give back what the release changed (surged capacity, suspended processes, a drained
batch it did not terminate) and release the ASG's lease, if this release holds it; another
holder's lease, and the ASG, stay as they are."""

from __future__ import annotations

from typing import Any

from tasks import contracts, ownership, runtime


@contracts.step("unlock_asg")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    asg, me = event["asg_name"], event["release_id"]
    done = ownership.let_go(asg, me)
    runtime.logger.info(f"{asg} => {done.line}", extra={"step": "UnlockAsg"})
    return {
        "asg_name": asg,
        "release_id": me,
        "unlocked": done.unlocked,
        "restored_capacity": done.restored_capacity,
        "notes": list(done.notes),
    }
