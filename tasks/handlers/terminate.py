"""Terminate: terminate the selected batch through Auto Scaling, which launches replacements."""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.domain import alarms, rollback
from tasks.domain.fleet import Progress
from tasks.domain.release import begin_replacement


@contracts.step("terminate")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    progress = Progress.from_record(event["progress"])
    batch = progress.decision.batch if progress.decision else ()
    stopped = f"the batch of {len(batch)} was not terminated, and no other will be"
    runtime.check_alarms(event["asg_name"], alarms.watched(event.get("alarm_names", []), progress), stopped)
    pin = event.get("pin_parameter")
    if pin is not None and progress.target_version is not None:
        # Replacements boot the build the pin names: this batch's boot the target.
        runtime.parameters().pin(rollback.pin_name(pin, event["asg_name"]), progress.target_version)
    terminated = runtime.autoscaling().terminate_batch(event["asg_name"], batch)
    runtime.logger.info(
        f"{event['asg_name']} => terminating instance ids [{' '.join(terminated)}]",
        extra={"step": "Terminate", "asg_name": event["asg_name"], "terminated": terminated},
    )
    return begin_replacement(progress, terminated, runtime.now()).to_record()
