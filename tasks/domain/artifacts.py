"""Build artifacts in S3: which app and version an uploaded key names."""

from __future__ import annotations

import re

from tasks.domain import versions

DEFAULT_KEY_PATTERN = r"^(?P<app>[^/]+)/(?P<version>[^/]+)/[^/]+$"
KEY_PATTERN_GROUPS = ("app", "version")


def key_pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot name builds, or None. Checked when the functions load their settings,
    so a bad ``ArtifactKeyPattern`` fails the first invocation by name instead of every upload
    quietly naming no build."""
    try:
        compiled = re.compile(pattern)
    except re.error as e:
        return f"is not a regular expression ({e})"
    missing = [f"(?P<{group}>...)" for group in KEY_PATTERN_GROUPS if group not in compiled.groupindex]
    return f"has no named group {' or '.join(missing)}" if missing else None


def parse_key(key: str, pattern: str = DEFAULT_KEY_PATTERN) -> tuple[str, str] | None:
    """(app, version) from a key such as ``web/1.0.274/app.zip``; None when the key names no build."""
    match = re.match(pattern, key)
    if not match:
        return None
    app, version = match.group("app"), match.group("version")
    return (app, version) if versions.is_version(version) else None


def newest(keys: list[str], app: str | None = None, pattern: str = DEFAULT_KEY_PATTERN) -> str | None:
    """The highest version uploaded (for one app, or any)."""
    builds = [b for b in (parse_key(k, pattern) for k in keys) if b and (app is None or b[0] == app)]
    return versions.highest([version for _, version in builds])


def listing_prefix(app: str, pattern: str = DEFAULT_KEY_PATTERN) -> str:
    """Where an app's builds are listed from: ``<app>/`` under the default pattern; the whole bucket
    under any other, whose keys need not start with the app."""
    return f"{app}/" if pattern == DEFAULT_KEY_PATTERN else ""
