"""Releases started by EventBridge events, run as the state machine's input on the real ASL."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from tasks import runtime

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.workflow.conftest import World

EVENTS = Path(__file__).parent.parent / "events"
OLD, NEW = "1.0.266", "1.0.274"
PIN = "/asg-terminator/{asg_name}/build"


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


@pytest.fixture
def deployment_defaults(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The deployment's RELEASE_DEFAULTS, as the SAM template sets them on the function."""
    sim = world.fleet(build=NEW)
    monkeypatch.setenv("RELEASE_DEFAULTS", json.dumps({"version_url": sim.url_template, "poll_seconds": 1}))
    runtime.settings.cache_clear()
    yield
    monkeypatch.delenv("RELEASE_DEFAULTS")
    runtime.settings.cache_clear()


def test_an_s3_upload_event_releases_the_asgs_tagged_with_its_app(world: World, deployment_defaults: None) -> None:
    world.asg("shop_web", 2, OLD, tags={"asg-terminator:app": "shop"})
    world.asg("shop_api", 1, OLD, tags={"asg-terminator:app": "shop"})
    untouched = world.asg("other_web", 2, OLD, tags={"asg-terminator:app": "other"})

    execution, watch = world.release_raw(event("s3_object_created.json"), ["shop_web", "shop_api", "other_web"])

    assert execution.status == "FAILED"  # shop_api has one instance: its floor blocks it, by design
    message = execution.cause_message()
    assert "shop_web CONVERGED on 1.0.274" in message and "shop_api FAILED FloorBlocksReleaseError" in message
    assert world.versions("shop_web") == [NEW, NEW]
    assert world.versions("other_web") == [OLD, OLD] and not set(untouched) & set(execution.terminated())
    assert watch.floor_breaches("shop_web", 1) == []


def test_a_scheduled_sweep_releases_each_enabled_asg_to_what_was_uploaded_for_it(
    world: World, deployment_defaults: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never to a version only read from /version: an instance answering 999.0 is just outdated.
    An ASG with an upload goes to its app's highest build, one without to its pin, one with neither
    is SKIPPED with the reason, and an ASG not tagged enabled is not swept at all."""
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="sweep-artifacts")
    for key in ("sweep/1.0.270/app.zip", "sweep/1.0.274/app.zip", "sweep/1.0.274/app.sha256", "other/2.0.0/app.zip"):
        s3.put_object(Bucket="sweep-artifacts", Key=key, Body=b"build")
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/asg-terminator/pinned_web/build", Value=NEW, Type="String"
    )
    defaults = {"version_url": world.simulator.url_template, "poll_seconds": 1, "pin_parameter": PIN}  # type: ignore[union-attr]
    monkeypatch.setenv("RELEASE_DEFAULTS", json.dumps(defaults))
    monkeypatch.setenv("ARTIFACT_BUCKET", "sweep-artifacts")
    runtime.settings.cache_clear()
    enabled = {"asg-terminator:enabled": "true"}
    ids = world.asg("sweep_web", 3, OLD, tags={**enabled, "asg-terminator:app": "sweep"})
    world.simulator.adopt(ids[:1], "999.0")  # type: ignore[union-attr]  # answers a build never uploaded
    world.asg("pinned_web", 2, OLD, tags=enabled)
    world.asg("bare_web", 2, OLD, tags={**enabled, "asg-terminator:app": "bare"})
    world.asg("manual_web", 2, OLD)

    execution, watch = world.release_raw(event("scheduled_event.json"), ["sweep_web", "pinned_web", "bare_web"])

    assert execution.status == "SUCCEEDED", execution.cause
    reports = {a["asg_name"]: a for a in execution.output["asgs"]}
    assert sorted(reports) == ["bare_web", "pinned_web", "sweep_web"]
    assert reports["sweep_web"]["target_version"] == NEW and world.versions("sweep_web") == [NEW] * 3
    assert reports["pinned_web"]["target_version"] == NEW and world.versions("pinned_web") == [NEW] * 2
    skipped = reports["bare_web"]
    assert skipped["status"] == "SKIPPED" and skipped["error"] == "AsgSkippedError"
    assert (
        "bare_web: skipped: nothing uploaded to release: no build of bare in s3://sweep-artifacts/" in skipped["cause"]
    )
    assert "no parameter /asg-terminator/bare_web/build" in skipped["cause"]
    assert world.versions("bare_web") == [OLD] * 2 and world.versions("manual_web") == [OLD] * 2
    assert watch.floor_breaches("sweep_web", 1) == [] and watch.floor_breaches("pinned_web", 1) == []


def test_an_event_matching_no_tagged_asg_ends_without_touching_anything(
    world: World, deployment_defaults: None
) -> None:
    world.asg("untagged", 2, OLD, opted_in=False)

    execution, _ = world.release_raw(event("s3_object_created.json"), ["untagged"])

    assert execution.status == "SUCCEEDED"
    assert execution.states_entered() == ["RouteInput", "ResolveEvent", "AnythingToRelease", "NothingToRelease"]
    assert world.versions("untagged") == [OLD, OLD]


def test_a_key_that_names_no_version_fails_naming_the_key(world: World, deployment_defaults: None) -> None:
    bad = event("s3_object_created.json")
    bad["detail"]["object"]["key"] = "shop/latest/app.zip"

    execution, _ = world.release_raw(bad, [])

    assert execution.status == "FAILED" and execution.error == "UnreleasableEventError"
    assert "shop/latest/app.zip: the key names no app and version" in execution.cause_message()


def test_the_same_s3_event_delivered_twice_starts_one_release(
    world: World, deployment_defaults: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks.handlers.start_release import handler

    monkeypatch.setenv("STATE_MACHINE_ARN", world.machine_arn)
    monkeypatch.setenv("UPLOAD_WINDOW_SECONDS", "1")  # how long files count as one upload (60 s in AWS)
    runtime.settings.cache_clear()
    world.asg("shop_web", 2, OLD, tags={"asg-terminator:app": "shop"})
    upload = event("s3_object_created.json")

    first = handler(upload, None)
    second = handler(json.loads(json.dumps(upload)), None)
    reupload = json.loads(json.dumps(upload))
    reupload["detail"]["object"]["sequencer"] = "00617F0829932A0000"  # the same key uploaded again later
    wait_until_done(world.sfn, first["execution_arn"])  # a new upload after the release it started ended
    time.sleep(1)
    third = handler(reupload, None)

    assert first["started"] is True and first["execution_name"] == "shop-1-0-274-00617F08299329D189"
    assert second == {**first, "started": False, "execution_arn": None}
    assert third["started"] is True and third["execution_name"] != first["execution_name"]
    executions = world.sfn.list_executions(stateMachineArn=world.machine_arn)["executions"]
    assert sorted(e["name"] for e in executions) == sorted([first["execution_name"], third["execution_name"]])
    for e in executions:  # let both finish before the fleet goes away
        wait_until_done(world.sfn, e["executionArn"])


def wait_until_done(sfn: Any, arn: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, f"{arn} still running"
        time.sleep(0.1)
    return str(status)
