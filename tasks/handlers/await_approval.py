"""AwaitApproval: a checkpoint waits for a human. Step Functions holds the state until
`asg-terminator approve` or `reject` answers its callback token (SendTaskSuccess/SendTaskFailure);
this function only says that it waits: in the log, and on the event bus when the release has one."""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.domain import notifications


@contracts.step("await_approval")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    asg, execution = event["asg_name"], event["execution_id"]
    detail_type, detail = notifications.approval_requested(event["release_id"], asg, execution, event["message"])
    runtime.logger.info(
        f"{asg} => waiting for approval: {detail['approve']}, or {detail['reject']}",
        extra={"step": "AwaitApproval", "asg_name": asg, "execution_arn": execution},
    )
    runtime.notify(event["event_bus_name"], (detail_type, detail))
    return {"requested": ["log"] + ([event["event_bus_name"]] if event["event_bus_name"] else [])}
