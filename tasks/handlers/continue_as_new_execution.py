"""ContinueAsNewExecution: hand each continuing ASG's lease to the chain's next execution, then
start it with the input Summarize built.

The next execution's name is chosen here (derived from this execution's), so its ARN is known
before it starts and the lease can move first. A retry after a start that succeeded finds the
execution already there and reports it: the chain never forks.
"""

from __future__ import annotations

from typing import Any

from tasks import contracts, ownership, runtime
from tasks.adapters.stepfunctions import execution_arn


@contracts.step("continue_as_new_execution")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    machine, name, next_input = event["state_machine_arn"], event["next"]["name"], event["next"]["input"]
    arn = execution_arn(machine, name)
    ownership.hand_over(next_input["asg_names"], event["execution_id"], arn)
    started = runtime.stepfunctions().start_once(machine, name, next_input)
    runtime.logger.info(
        f"release continues as {arn}" + ("" if started else " (started by an earlier attempt)"),
        extra={"step": "ContinueAsNewExecution", "execution_name": name},
    )
    return {"status": "CONTINUED", "continued_as": started or arn}
