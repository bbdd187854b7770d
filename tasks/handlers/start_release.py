"""StartRelease: the EventBridge target. Starts the release state machine once per event, and once
per upload however many files it has.

Not a Task state: EventBridge cannot name the executions it starts, and the name is what makes
a duplicate delivery of the same S3 event start nothing new. An upload of several files under one
``<app>/<version>/`` (``app.zip`` and ``app.sha256``, say) sends one event per file: the first
claims the upload in the lease table, and the others within a minute start nothing.
"""

from __future__ import annotations

from typing import Any

from tasks import contracts, ownership, runtime
from tasks.adapters.stepfunctions import execution_arn
from tasks.domain.events import execution_name, trigger


@contracts.step("start_release")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = runtime.settings()
    name = execution_name(event, settings.artifact_key_pattern)
    wanted = trigger(event, settings.artifact_key_pattern)
    skipped = None
    if wanted.target_version is not None:  # an upload
        planned = execution_arn(settings.state_machine_arn, name)
        skipped = ownership.claim_upload(wanted.tag_value, wanted.target_version, name, planned)
    arn = None if skipped else runtime.stepfunctions().start_once(settings.state_machine_arn, name, event)
    said = "started" if arn else (skipped or "already started: duplicate event ignored")
    runtime.logger.info(f"release {name} {said}", extra={"step": "StartRelease", "execution_name": name})
    return {"execution_name": name, "started": arn is not None, "execution_arn": arn, "skipped": skipped}
