"""UnlockAsg: give back surged capacity and release the ASG's lock, if this release holds it;
another holder's lock (and capacity) stays."""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.adapters.autoscaling import tags_of
from tasks.domain import capacity
from tasks.domain.lock import LOCK_TAG
from tasks.errors import AsgNotFoundError


@contracts.step("unlock_asg")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    asg, me, autoscaling = event["asg_name"], event["release_id"], runtime.autoscaling()
    try:
        tags = tags_of(autoscaling.describe_group(asg))
    except AsgNotFoundError:  # deleted during the release: nothing to give back
        tags = {}
    original = capacity.recorded(tags.get(capacity.SURGE_TAG))
    restored = _give_back(asg, original) if tags.get(LOCK_TAG) == me and original is not None else None
    unlocked = autoscaling.delete_tag_if(asg, LOCK_TAG, me)
    said = "unlocked" if unlocked else "lock not held by this release"
    if restored is not None:
        said += f", desired capacity given back to {restored}"
    runtime.logger.info(f"{asg} => {said}", extra={"step": "UnlockAsg"})
    return {"asg_name": asg, "release_id": me, "unlocked": unlocked, "restored_capacity": restored}


def _give_back(asg: str, original: int) -> int:
    """Remove the surplus instance by instance (see capacity.to_give_back), rather than lowering desired
    capacity and letting Auto Scaling's termination policy pick, which may keep broken instances."""
    autoscaling, fleet = runtime.autoscaling(), runtime.fleet_reader().discover(asg, None)
    for instance_id in capacity.to_give_back(fleet.instances, fleet.desired - original):
        autoscaling.terminate_in_group(instance_id, decrement=True)
    autoscaling.set_desired(asg, original)  # whatever instances were already gone
    autoscaling.delete_tag(asg, capacity.SURGE_TAG)
    return original
