"""ResolveEvent: turn an EventBridge event (S3 upload, schedule) into the console's execution input."""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime, sweep
from tasks.domain.events import release_input, trigger


@contracts.step("resolve_event")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = runtime.settings()
    wanted = trigger(event, settings.artifact_key_pattern)
    groups = runtime.autoscaling().tagged(wanted.tag_key, wanted.tag_value)
    # An upload names its version; a sweep releases each ASG to what was uploaded for it.
    targets = None if wanted.target_version is not None else sweep.targets(groups, settings.release_defaults)
    runtime.logger.info(
        f"{wanted.reason} => {len(groups)} ASGs tagged {wanted.tag_key}={wanted.tag_value}",
        extra={"step": "ResolveEvent", "asg_names": list(groups), "target_version": wanted.target_version},
    )
    return release_input(wanted, list(groups), settings.release_defaults, targets)
