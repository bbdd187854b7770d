"""The starts a release can have besides the console: an S3 upload of a build, or the schedule.

Both arrive as EventBridge events; each is turned into the console's execution input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tasks.domain import artifacts, lease, versions
from tasks.errors import AsgSkippedError, UnreleasableEventError

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


def release_input(
    trigger: ReleaseTrigger,
    asg_names: list[str],
    defaults: dict[str, Any],
    targets: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The console input for this trigger; ``defaults`` are the deployment's release settings, and
    ``targets`` what a sweep found for each ASG (see ``sweep_target``)."""
    release: dict[str, Any] = {"when_held": trigger.when_held, **defaults, "asg_names": sorted(asg_names)}
    if trigger.target_version is not None:
        release["target_version"] = trigger.target_version
    elif targets is not None:
        release["target_version"] = None  # the sweep's targets are per ASG, never the defaults'
        release["asg_targets"] = {name: targets[name] for name in sorted(asg_names)}
    return release


SOURCE_CHARS = 300  # an asg_targets entry's ``from``: where its version came from, or why there is none


def sweep_target(
    asg_name: str,
    app: str | None,
    bucket: str | None,
    uploaded: str | None,
    pin: str | None,
    pinned: str | None,
) -> dict[str, Any]:
    """What a sweep releases ``asg_name`` to: the highest build uploaded for its app
    (``asg-terminator:app``) to the artifacts bucket, else what its pin parameter names, else nothing
    (the ASG is SKIPPED, and ``from`` says why). Never a version only read from ``/version``: one
    instance answering ``999.0`` must not make every other instance outdated."""
    if app and bucket and uploaded is not None:
        return {"version": uploaded, "from": f"s3://{bucket}/ (the highest build of {app})"[:SOURCE_CHARS]}
    if pin is not None and pinned is not None and versions.is_version(pinned):
        return {"version": versions.normalize(pinned), "from": f"ssm:{pin}"[:SOURCE_CHARS]}
    looked = []
    if app and bucket:
        looked.append(f"no build of {app} in s3://{bucket}/")
    elif app:
        looked.append("no artifacts bucket to look for its builds in")
    else:
        looked.append(f"no {APP_TAG} tag to look for its builds by")
    if pin is None:
        looked.append("no pin_parameter")
    else:
        looked.append(f"{pin} names no version" if pinned is not None else f"no parameter {pin}")
    return {"version": None, "from": f"nothing uploaded to release: {'; '.join(looked)}"[:SOURCE_CHARS]}


def asg_target(settings: dict[str, Any], asg_name: str) -> str | None:
    """This ASG's target: the input's ``target_version``, else what a sweep found for it
    (``asg_targets``), else None (the highest version read at the first read, for a console start).
    A sweep that found nothing for the ASG skips it (AsgSkippedError): that fails nothing."""
    if settings.get("target_version") is not None or settings.get("asg_targets") is None:
        return settings.get("target_version")
    found = settings["asg_targets"].get(asg_name) or {"version": None, "from": "the sweep resolved no target for it"}
    if found["version"] is None:
        raise AsgSkippedError(f"{asg_name}: skipped: {found['from']}")
    return str(found["version"])


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
