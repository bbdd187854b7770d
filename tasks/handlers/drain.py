"""Drain: before a batch is terminated, take it out of the ASG's target groups; WaitForDraining then
waits out the longest deregistration delay, so connections in flight complete."""

from __future__ import annotations

from typing import Any

from tasks import contracts, ownership, runtime
from tasks.domain import alarms
from tasks.domain.fleet import Progress


@contracts.step("drain")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    asg, progress = event["asg_name"], Progress.from_record(event["progress"])
    batch = list(progress.decision.batch) if progress.decision else []
    watched = alarms.watched(event.get("alarm_names", []), progress)
    runtime.check_alarms(asg, watched, f"the batch of {len(batch)} was not drained")
    target_groups = list(runtime.autoscaling().describe_group(asg).target_groups)
    seconds = ownership.drain(asg, event["release_id"], target_groups, batch) if target_groups and batch else 0
    runtime.logger.info(
        f"{asg} => draining [{' '.join(batch)}] from {len(target_groups)} target groups for {seconds} s",
        extra={"step": "Drain", "asg_name": asg},
    )
    return {"instance_ids": batch, "target_groups": len(target_groups), "seconds": seconds}
