"""LockAsg: make this release the only one working on the ASG (see tasks/domain/lock.py), then
surge its capacity when ``max_surge`` asks (see tasks/domain/capacity.py)."""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.adapters.autoscaling import tags_of
from tasks.domain import capacity, notifications
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
    surge = _surge(asg, event.get("max_surge", 0), ours=holder is not None and holder in (me, takes_over))
    runtime.logger.info(f"{asg} => locked by {me}; {surge}", extra={"step": "LockAsg", "asg_name": asg})
    if takes_over is None:  # a chain's later executions go on with a release already started
        runtime.notify(event.get("event_bus_name"), notifications.started(me, asg), required=True)
    return {"asg_name": asg, "release_id": me, "capacity": surge}


def _surge(asg: str, max_surge: int | str, ours: bool) -> str:
    autoscaling = runtime.autoscaling()
    group = autoscaling.describe_group(asg)
    recorded = capacity.recorded(tags_of(group).get(capacity.SURGE_TAG))
    plan = capacity.plan_surge(max_surge, int(group["DesiredCapacity"]), int(group["MaxSize"]), recorded, ours)
    if plan.set_to is not None and plan.original is not None:
        autoscaling.set_tag(asg, capacity.SURGE_TAG, str(plan.original))  # first: an interruption leaves a record
    if plan.set_to is not None:
        autoscaling.set_desired(asg, plan.set_to)
    if plan.original is None and recorded is not None:
        autoscaling.delete_tag(asg, capacity.SURGE_TAG)
    return plan.note
