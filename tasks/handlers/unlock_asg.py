"""UnlockAsg: release the ASG's lock if this release holds it; another holder's lock stays."""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.domain.lock import LOCK_TAG


@contracts.step("unlock_asg")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    asg, me = event["asg_name"], event["release_id"]
    unlocked = runtime.autoscaling().delete_tag_if(asg, LOCK_TAG, me)
    runtime.logger.info(
        f"{asg} => {'unlocked' if unlocked else 'lock not held by this release'}", extra={"step": "UnlockAsg"}
    )
    return {"asg_name": asg, "release_id": me, "unlocked": unlocked}
