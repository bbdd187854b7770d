"""The starts a release can have besides the console: an S3 upload of a build, or the schedule.

Both arrive as EventBridge events; each is turned into the console's execution input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tasks.domain import artifacts, lease
from tasks.errors import UnreleasableEventError

APP_TAG = "asg-terminator:app"
ENABLED_TAG = "asg-terminator:enabled"


@dataclass(frozen=True)
class ReleaseTrigger:
    """Which ASGs (by opt-in tag) and which version an event asks for, and what it does with an ASG
    another release holds (``when_held``: a sweep skips it; an upload skips it when it is being
    released to the same version)."""

    tag_key: str
    tag_value: str
    target_version: str | None
    reason: str
    when_held: str


def trigger(event: dict[str, Any], key_pattern: str = artifacts.DEFAULT_KEY_PATTERN) -> ReleaseTrigger:
    kind = event.get("detail-type")
    if kind == "Object Created" and event.get("source") == "aws.s3":
        detail = event["detail"]
        key = detail["object"]["key"]
        build = artifacts.parse_key(key, key_pattern)
        if build is None:
            raise UnreleasableEventError(
                f"s3://{detail['bucket']['name']}/{key}: the key names no app and version "
                f"(pattern {key_pattern!r}, e.g. 'web/1.0.274/app.zip')"
            )
        app, version = build
        reason = f"upload of s3://{detail['bucket']['name']}/{key}"
        return ReleaseTrigger(APP_TAG, app, version, reason, lease.SKIP_SAME_TARGET)
    if kind == "Scheduled Event" and event.get("source") == "aws.events":
        return ReleaseTrigger(ENABLED_TAG, "true", None, f"schedule at {event.get('time', '?')}", lease.SKIP)
    raise UnreleasableEventError(f"event {kind!r} from {event.get('source')!r} does not start a release")


def release_input(trigger: ReleaseTrigger, asg_names: list[str], defaults: dict[str, Any]) -> dict[str, Any]:
    """The console input for this trigger; ``defaults`` are the deployment's release settings."""
    release: dict[str, Any] = {"when_held": trigger.when_held, **defaults, "asg_names": sorted(asg_names)}
    if trigger.target_version is not None:
        release["target_version"] = trigger.target_version
    return release


def execution_name(event: dict[str, Any], key_pattern: str = artifacts.DEFAULT_KEY_PATTERN) -> str:
    """A name that is the same for every delivery of the same event, so Step Functions (whose
    Standard execution names are unique) starts one release however often it is delivered."""
    wanted = trigger(event, key_pattern)
    if wanted.target_version is not None:
        obj = event["detail"]["object"]
        stamp = obj.get("sequencer") or obj.get("etag") or event.get("id", "")
        raw = f"{wanted.tag_value}-{wanted.target_version}-{stamp}"
    else:
        raw = f"sweep-{event.get('time', event.get('id', ''))}"
    return _NAME_UNSAFE.sub("-", raw)[:80]


_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

# One release per upload: every file put under one <app>/<version>/ within this many seconds of
# the first starts nothing more; a put after the release it started has ended starts another.
UPLOAD_WINDOW_SECONDS = 60


@dataclass(frozen=True)
class UploadClaim:
    """Which execution an upload of a build started, and when: an item in the lease table, keyed
    ``upload:<app>/<version>`` (an ASG's name never holds a colon, so it never meets a lease)."""

    key: str
    execution_name: str
    execution_arn: str
    claimed_at: float


def upload_key(app: str, version: str) -> str:
    return f"upload:{app}/{version}"


def upload_skipped(
    claim: UploadClaim | None, name: str, now: float, claimed_running: bool, window: float = UPLOAD_WINDOW_SECONDS
) -> str | None:
    """None when this event's release may start (claiming the upload); otherwise why it does not."""
    if claim is None or claim.execution_name == name:  # the first file, or this event delivered again
        return None
    build = claim.key.removeprefix("upload:")
    age = now - claim.claimed_at
    if age < window:
        return f"another file of {build} started {claim.execution_name} {age:.0f} s ago: one release per upload"
    if claimed_running:
        return f"{claim.execution_name} is still releasing {build}"
    return None
