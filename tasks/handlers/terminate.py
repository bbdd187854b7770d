"""Terminate: terminate the selected batch through Auto Scaling, which launches replacements (but
for those a surge already replaced: see tasks/domain/capacity.py plan_wave); each termination is
fenced by the lease."""

from __future__ import annotations

from typing import Any

from tasks import contracts, ownership, runtime
from tasks.domain import alarms, rollback
from tasks.domain.fleet import Progress
from tasks.domain.replacement import begin_replacement


@contracts.step("terminate")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    asg, me, progress = event["asg_name"], event["release_id"], Progress.from_record(event["progress"])
    batch = progress.decision.batch if progress.decision else ()
    stopped = f"the batch of {len(batch)} was not terminated, and no other will be"
    runtime.check_alarms(asg, alarms.watched(event.get("alarm_names", []), progress), stopped)
    pin = event.get("pin_parameter")
    if pin is not None and progress.target_version is not None:
        # Replacements boot the build the pin names: this batch's boot the target.
        ownership.pin(asg, me, rollback.pin_name(pin, asg), progress.target_version)
    after = progress.decision.outdated_after if progress.decision else None
    done = ownership.terminate(asg, me, batch, progress.target_version, after)
    runtime.logger.info(
        f"{asg} => terminating instance ids [{' '.join(done.instance_ids)}]; {done.note}",
        extra={"step": "Terminate", "asg_name": asg, "terminated": done.instance_ids},
    )
    # An execution started before poll_seconds was passed here polls at the input's default.
    poll = event.get("poll_seconds", contracts.defaults("validate_input.input")["poll_seconds"])
    decremented = len(done.decremented)
    return begin_replacement(
        progress, done.instance_ids, runtime.now(), poll_seconds=poll, decremented=decremented
    ).to_record()
