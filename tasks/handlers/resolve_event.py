"""ResolveEvent: turn an EventBridge event (S3 upload, schedule) into the console's execution input."""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.domain.events import release_input, trigger


@contracts.step("resolve_event")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = runtime.settings()
    wanted = trigger(event, settings.artifact_key_pattern)
    names = runtime.autoscaling().names_tagged(wanted.tag_key, wanted.tag_value)
    runtime.logger.info(
        f"{wanted.reason} => {len(names)} ASGs tagged {wanted.tag_key}={wanted.tag_value}",
        extra={"step": "ResolveEvent", "asg_names": names, "target_version": wanted.target_version},
    )
    return release_input(wanted, names, settings.release_defaults)
