"""LockAsg: make this release the only one working on the ASG (see tasks/domain/lock.py)."""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.domain import notifications
from tasks.domain.lock import LOCK_TAG, confirm, may_take


@contracts.step("lock_asg")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    asg, me, autoscaling = event["asg_name"], event["release_id"], runtime.autoscaling()
    holder = autoscaling.tag_value(asg, LOCK_TAG)
    takes_over = event.get("takes_over")
    running = holder is not None and holder != takes_over and runtime.stepfunctions().is_running(holder)
    if may_take(asg, me, holder, running, takes_over):
        autoscaling.set_tag(asg, LOCK_TAG, me)
        runtime.sleep(runtime.settings().lock_settle_seconds)
        confirm(asg, me, autoscaling.tag_value(asg, LOCK_TAG))
    runtime.logger.info(f"{asg} => locked by {me}", extra={"step": "LockAsg", "asg_name": asg})
    if takes_over is None:  # a chain's later executions go on with a release already started
        runtime.notify(event.get("event_bus_name"), notifications.started(me, asg), required=True)
    return {"asg_name": asg, "release_id": me}
