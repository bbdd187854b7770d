"""StartRelease: the EventBridge target. Starts the release state machine once per event.

Not a Task state: EventBridge cannot name the executions it starts, and the name is what makes
a duplicate delivery of the same S3 event start nothing new.
"""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.domain.events import execution_name


@contracts.step("start_release")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = runtime.settings()
    name = execution_name(event, settings.artifact_key_pattern)
    arn = runtime.stepfunctions().start_once(settings.state_machine_arn, name, event)
    runtime.logger.info(
        f"release {name} {'started' if arn else 'already started: duplicate event ignored'}",
        extra={"step": "StartRelease", "execution_name": name},
    )
    return {"execution_name": name, "started": arn is not None, "execution_arn": arn}
