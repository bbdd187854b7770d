"""Cleanup: the target of the rule on ``Step Functions Execution Status Change`` (ABORTED, FAILED,
TIMED_OUT). An execution that ended without letting its ASGs go (stopped by hand, say) leaves
nothing behind: for each lease it still holds, capacity is restored, the drained instances are
registered again, the processes it suspended resume, and the lease is released. Idempotent; the
next release of an ASG repairs whatever this could not."""

from __future__ import annotations

from typing import Any

from tasks import contracts, ownership, runtime


@contracts.step("cleanup")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    detail = event["detail"]
    arn, machine = detail["executionArn"], runtime.settings().state_machine_arn
    if detail["stateMachineArn"] != machine:  # the rule names the release state machine; so does this
        runtime.logger.warning(f"{arn}: not an execution of {machine}; nothing to clean up")
        return {"execution_arn": arn, "asgs": []}
    stopped = detail.get("stopDate")  # epoch milliseconds
    done = ownership.clean_up(arn, stopped / 1000 if isinstance(stopped, int | float) else runtime.epoch())
    for asg, let_go in done.items():
        said = f"restored desired capacity {let_go.restored_capacity}" if let_go.restored_capacity is not None else ""
        runtime.logger.info(
            f"{asg} => cleaned up after {arn} ({detail['status']}): {'; '.join(filter(None, [said, *let_go.notes]))}",
            extra={"step": "Cleanup", "asg_name": asg},
        )
    return {
        "execution_arn": arn,
        "asgs": [
            {
                "asg_name": asg,
                "unlocked": let_go.unlocked,
                "restored_capacity": let_go.restored_capacity,
                "notes": list(let_go.notes),
            }
            for asg, let_go in sorted(done.items())
        ],
    }
