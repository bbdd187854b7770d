"""UnlockAsg: give back surged capacity and release the ASG's lock, if this release holds it;
another holder's lock (and capacity) stays."""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.domain import capacity
from tasks.domain.lock import LOCK_TAG
from tasks.errors import AsgNotFoundError


@contracts.step("unlock_asg")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    asg, me, autoscaling = event["asg_name"], event["release_id"], runtime.autoscaling()
    restored = None
    try:
        tags = {t["Key"]: t["Value"] for t in autoscaling.describe_group(asg).get("Tags", [])}
    except AsgNotFoundError:  # deleted during the release: nothing to give back
        tags = {}
    original = capacity.recorded(tags.get(capacity.SURGE_TAG))
    if tags.get(LOCK_TAG) == me and original is not None:
        autoscaling.set_desired(asg, original)
        autoscaling.delete_tag(asg, capacity.SURGE_TAG)
        restored = original
    unlocked = autoscaling.delete_tag_if(asg, LOCK_TAG, me)
    said = "unlocked" if unlocked else "lock not held by this release"
    if restored is not None:
        said += f", desired capacity restored to {restored}"
    runtime.logger.info(f"{asg} => {said}", extra={"step": "UnlockAsg"})
    return {"asg_name": asg, "release_id": me, "unlocked": unlocked, "restored_capacity": restored}
