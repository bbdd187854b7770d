"""The functions that read ArtifactKeyPattern (StartRelease, ResolveEvent) fail on a bad one at their
first invocation, naming it, before any AWS call; a custom good one names the build."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from tasks import runtime
from tasks.errors import InvalidSettingsError
from tasks.handlers import resolve_event, start_release
from tests.functional.support import REGION

if TYPE_CHECKING:
    from collections.abc import Callable

EVENTS = Path(__file__).parent.parent / "events"
NO_VERSION_GROUP = r"^(?P<app>[^/]+)/([^/]+)/[^/]+$"


def upload(key: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "s3_object_created.json").read_text())
    event["detail"]["object"]["key"] = key
    return event


def use_pattern(monkeypatch: pytest.MonkeyPatch, pattern: str) -> None:
    monkeypatch.setenv("ARTIFACT_KEY_PATTERN", pattern)
    runtime.settings.cache_clear()  # a cold start


@pytest.mark.parametrize("handler", [start_release.handler, resolve_event.handler])
def test_a_pattern_without_the_version_group_fails_every_invocation_and_starts_nothing(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]],
    make_asg: Callable[..., list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_asg("shop_web", 1, tags={"asg-terminator:app": "shop"})
    monkeypatch.setenv("STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:release")
    use_pattern(monkeypatch, NO_VERSION_GROUP)

    for _ in range(2):  # not only the first: nothing is cached until the settings are good
        with pytest.raises(InvalidSettingsError) as raised:
            handler(upload("shop/1.0.274/app.zip"), None)
        assert (
            f"ArtifactKeyPattern (ARTIFACT_KEY_PATTERN) {NO_VERSION_GROUP!r} has no named group (?P<version>...)"
            in (str(raised.value))
        )

    claims = boto3.client("dynamodb", region_name=REGION).scan(TableName=os.environ["LEASE_TABLE"])["Items"]
    assert claims == []  # StartRelease claimed no upload (and so started nothing)


def test_a_custom_pattern_names_the_app_and_version_of_an_upload(
    make_asg: Callable[..., list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_asg("shop_web", 1, tags={"asg-terminator:app": "shop"})
    make_asg("blog_web", 1, tags={"asg-terminator:app": "blog"})
    use_pattern(monkeypatch, r"^releases/(?P<app>[a-z]+)-(?P<version>[0-9.]+)\.tar\.gz$")

    release = resolve_event.handler(upload("releases/shop-1.0.274.tar.gz"), None)

    assert release["asg_names"] == ["shop_web"] and release["target_version"] == "1.0.274"
