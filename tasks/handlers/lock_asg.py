"""LockAsg: make this release the ASG's only owner (its lease, see tasks/domain/lease.py), then
suspend the Auto Scaling processes that would fight the release and surge its capacity when
``max_surge`` asks (see tasks/domain/capacity.py)."""

from __future__ import annotations

from typing import Any

from tasks import contracts, ownership, runtime
from tasks.domain import events, guardrails, lease, notifications


@contracts.step("lock_asg")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    asg, me, autoscaling = event["asg_name"], event["release_id"], runtime.autoscaling()
    settings = contracts.settings(event["settings"])
    # An ASG that does not exist, has not opted in or has a malformed guardrail tag fails here,
    # before any lease is taken or anything else is touched.
    guardrails.check(asg, autoscaling.describe_group(asg).tags)
    settings["target_version"] = events.asg_target(settings, asg)  # a sweep that found no build skips it here
    taken = ownership.take(asg, me, settings, settings["when_held"])
    autoscaling.set_tag(asg, lease.LOCK_TAG, me)  # the console's copy of the holder
    group = autoscaling.describe_group(asg)
    wanted, max_surge = settings["suspend_processes"], settings["max_surge"]
    plan = lease.plan_lock(taken, wanted, group.suspended, max_surge, group.desired, group.max_size)
    ownership.lock(asg, me, plan)
    runtime.logger.info(f"{asg} => leased to {me}; {plan.line}", extra={"step": "LockAsg", "asg_name": asg})
    if event.get("takes_over") is None:  # a chain's later executions go on with a release already started
        runtime.notify(settings["event_bus_name"], notifications.started(me, asg), required=True)
    return {"asg_name": asg, "release_id": me, "capacity": plan.surge.note, "suspended": list(plan.suspended)}
