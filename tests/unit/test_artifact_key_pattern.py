"""ArtifactKeyPattern is checked when settings load: a regex with the named groups app and version."""

from __future__ import annotations

import pytest

from tasks.domain import artifacts
from tasks.errors import InvalidSettingsError
from tasks.runtime import Settings


@pytest.mark.parametrize(
    "pattern",
    [
        artifacts.DEFAULT_KEY_PATTERN,
        r"^builds/(?P<app>[a-z]+)-(?P<version>[0-9.]+)\.zip$",
        r"(?P<version>[^/]+)/(?P<app>[^/]+)",  # any order
    ],
)
def test_a_pattern_with_both_named_groups_is_accepted(pattern: str) -> None:
    assert artifacts.key_pattern_problem(pattern) is None
    assert Settings.from_env({"ARTIFACT_KEY_PATTERN": pattern}).artifact_key_pattern == pattern


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (r"^(?P<app>[^/]+)/(?P<version>[^/]+", "is not a regular expression (missing ), unterminated subpattern"),
        (r"^(?P<app>[^/]+/(?P<version>[^/]+)/[^/]+$", "is not a regular expression"),
        (r"^(?P<app>[^/]+)/([^/]+)/[^/]+$", "has no named group (?P<version>...)"),
        (r"^([^/]+)/(?P<version>[^/]+)/[^/]+$", "has no named group (?P<app>...)"),
        (r"^([^/]+)/([^/]+)/[^/]+$", "has no named group (?P<app>...) or (?P<version>...)"),
        (r"^(?P<application>[^/]+)/(?P<build>[^/]+)$", "has no named group (?P<app>...) or (?P<version>...)"),
        ("[", "is not a regular expression"),
    ],
)
def test_a_pattern_that_cannot_name_builds_fails_settings_naming_the_parameter(pattern: str, problem: str) -> None:
    found = artifacts.key_pattern_problem(pattern)
    assert found is not None and found.startswith(problem)

    with pytest.raises(InvalidSettingsError) as raised:
        Settings.from_env({"ARTIFACT_KEY_PATTERN": pattern})

    message = str(raised.value)
    assert message.startswith(f"ArtifactKeyPattern (ARTIFACT_KEY_PATTERN) {pattern!r} {problem}")
    assert "named groups app and version" in message


def test_an_unset_or_empty_pattern_is_the_default() -> None:
    assert Settings.from_env({}).artifact_key_pattern == artifacts.DEFAULT_KEY_PATTERN
    assert Settings.from_env({"ARTIFACT_KEY_PATTERN": ""}).artifact_key_pattern == artifacts.DEFAULT_KEY_PATTERN


def test_settings_built_directly_are_checked_too() -> None:
    with pytest.raises(InvalidSettingsError, match="has no named group"):
        Settings(artifact_key_pattern=r"^(?P<app>[^/]+)/.*$")
