"""ContinueAsNewExecution: start the chain's next execution with the input Summarize built.

A retry after a start that succeeded finds the execution already there (its name is derived from
this execution's) and reports it: the chain never forks.
"""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.adapters.stepfunctions import execution_arn


@contracts.step("continue_as_new_execution")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    machine, name = event["state_machine_arn"], event["next"]["name"]
    started = runtime.stepfunctions().start_once(machine, name, event["next"]["input"])
    arn = started or execution_arn(machine, name)
    runtime.logger.info(
        f"release continues as {arn}" + ("" if started else " (started by an earlier attempt)"),
        extra={"step": "ContinueAsNewExecution", "execution_name": name},
    )
    return {"status": "CONTINUED", "continued_as": arn}
