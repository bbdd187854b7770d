"""A scheduled sweep's targets: per ASG, the highest build uploaded for its app, else its pin
(see tasks/domain/events.py ``sweep_target``). Never a version only read from ``/version``."""

from __future__ import annotations

from typing import Any

from tasks import runtime
from tasks.domain import artifacts, events, guardrails, rollback


def targets(groups: dict[str, dict[str, str]], defaults: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``groups``: the swept ASGs and their tags; ``defaults``: the release defaults (``pin_parameter``)."""
    chosen = runtime.settings()
    bucket, pattern = chosen.artifact_bucket or None, chosen.artifact_key_pattern
    template = defaults.get("pin_parameter")
    uploaded: dict[str, str | None] = {}  # per app: several ASGs may share one
    found: dict[str, dict[str, Any]] = {}
    for name, tags in sorted(groups.items()):
        app = guardrails.app_of(tags)
        if app and bucket and app not in uploaded:
            keys = runtime.artifact_store().keys(bucket, artifacts.listing_prefix(app, pattern))
            uploaded[app] = artifacts.newest(keys, app, pattern)
        newest = uploaded.get(app) if app else None
        pin = rollback.pin_name(template, name) if template else None
        pinned = runtime.parameters().pinned(pin) if pin and newest is None else None
        found[name] = events.sweep_target(name, app, bucket, newest, pin, pinned)
    return found
