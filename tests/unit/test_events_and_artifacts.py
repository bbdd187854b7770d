"""Events that start releases (S3 upload, schedule) and the build keys they carry."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tasks.domain import artifacts
from tasks.domain.events import (
    APP_TAG,
    ENABLED_TAG,
    UPLOAD_WINDOW_SECONDS,
    UploadClaim,
    asg_target,
    execution_name,
    release_input,
    sweep_target,
    trigger,
    upload_key,
    upload_skipped,
)
from tasks.domain.execution_input import settings_from_input
from tasks.errors import AsgSkippedError, InvalidExecutionInputError, UnreleasableEventError
from tests.unit.builders import settings

EVENTS = Path(__file__).parent.parent / "events"


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("web/1.0.274/app.zip", ("web", "1.0.274")),
        ("web/v1.0.274/app.zip", ("web", "v1.0.274")),
        ("web/latest/app.zip", None),
        ("web/1.0.274/nested/app.zip", None),
        ("app.zip", None),
    ],
)
def test_parse_key(key: str, expected: tuple[str, str] | None) -> None:
    assert artifacts.parse_key(key) == expected


def test_a_custom_key_pattern_names_app_and_version() -> None:
    pattern = r"^builds/(?P<app>\w+)-(?P<version>[\d.]+)\.zip$"
    assert artifacts.parse_key("builds/shop-1.2.3.zip", pattern) == ("shop", "1.2.3")
    assert artifacts.parse_key("shop/1.2.3/app.zip", pattern) is None


def test_newest_build_overall_and_per_app() -> None:
    keys = ["web/1.0.99/a.zip", "web/1.0.100/a.zip", "api/2.0.0/a.zip", "readme.txt"]
    assert artifacts.newest(keys) == "2.0.0"
    assert artifacts.newest(keys, app="web") == "1.0.100"
    assert artifacts.newest(keys, app="none") is None


def test_an_upload_targets_its_app_tag_and_version() -> None:
    wanted = trigger(event("s3_object_created.json"))
    assert (wanted.tag_key, wanted.tag_value, wanted.target_version) == (APP_TAG, "shop", "1.0.274")
    assert "s3://asg-terminator-artifacts/shop/1.0.274/app.zip" in wanted.reason


def test_a_schedule_targets_enabled_groups_with_no_pinned_version() -> None:
    wanted = trigger(event("scheduled_event.json"))
    assert (wanted.tag_key, wanted.tag_value, wanted.target_version) == (ENABLED_TAG, "true", None)


def test_a_key_without_a_version_is_unreleasable() -> None:
    bad = event("s3_object_created.json")
    bad["detail"]["object"]["key"] = "shop/latest/app.zip"
    with pytest.raises(UnreleasableEventError, match=r"shop/latest/app.zip: the key names no app and version"):
        trigger(bad)


def test_other_events_are_unreleasable() -> None:
    other = event("scheduled_event.json") | {
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
    }
    with pytest.raises(UnreleasableEventError, match="does not start a release"):
        trigger(other)


def test_release_input_pins_the_uploaded_version_over_defaults() -> None:
    upload = trigger(event("s3_object_created.json"))
    sweep = trigger(event("scheduled_event.json"))
    defaults = {"min_healthy": 2, "target_version": "0.0.1"}
    assert release_input(upload, ["b", "a"], defaults) == {
        "when_held": "skip_same_target",  # an upload of the version being released skips a held ASG
        "min_healthy": 2,
        "target_version": "1.0.274",
        "asg_names": ["a", "b"],
    }
    assert release_input(sweep, ["a"], {"min_healthy": 2}) == {
        "when_held": "skip",
        "min_healthy": 2,
        "asg_names": ["a"],
    }
    # The deployment may say otherwise: its defaults win over the trigger's choice.
    assert release_input(sweep, ["a"], {"when_held": "fail"})["when_held"] == "fail"


def test_execution_names_are_stable_per_delivery_and_differ_per_upload() -> None:
    upload = event("s3_object_created.json")
    again = copy.deepcopy(upload)
    again["id"] = "another-delivery-id"
    reupload = copy.deepcopy(upload)
    reupload["detail"]["object"]["sequencer"] = "00617F0829932A0000"
    assert execution_name(upload) == execution_name(again) == "shop-1-0-274-00617F08299329D189"
    assert execution_name(reupload) != execution_name(upload)


def test_execution_names_fall_back_to_the_etag_and_are_safe_and_short() -> None:
    upload = event("s3_object_created.json")
    del upload["detail"]["object"]["sequencer"]
    upload["detail"]["object"]["key"] = "a-very-long-application-name-for-a-shop/1.0.274+build.7/app.zip"
    name = execution_name(upload)
    assert len(name) <= 80 and all(c.isalnum() or c in "-_" for c in name)
    assert name.startswith("a-very-long-application-name-for-a-shop-1-0-274-build-7-b1946ac9")


def test_a_sweep_is_named_after_its_scheduled_time() -> None:
    assert execution_name(event("scheduled_event.json")) == "sweep-2026-11-27T10-35-00Z"


# -- one release per upload --------------------------------------------------------------------

CLAIM = UploadClaim("upload:shop/1.0.274", "shop-1-0-274-A", "arn:...:shop-1-0-274-A", claimed_at=1000.0)


def test_the_first_file_of_an_upload_claims_it_and_its_own_redelivery_goes_on() -> None:
    assert upload_key("shop", "1.0.274") == "upload:shop/1.0.274"
    assert upload_skipped(None, "shop-1-0-274-A", 1000.0, claimed_running=False) is None
    assert upload_skipped(CLAIM, "shop-1-0-274-A", 1001.0, claimed_running=True) is None  # start_once dedupes


def test_the_other_files_of_an_upload_within_the_window_start_nothing() -> None:
    said = upload_skipped(CLAIM, "shop-1-0-274-B", 1000.0 + UPLOAD_WINDOW_SECONDS - 1, claimed_running=False)
    assert said == "another file of shop/1.0.274 started shop-1-0-274-A 59 s ago: one release per upload"


def test_a_later_upload_waits_for_no_running_release_and_starts_once_it_ended() -> None:
    later = 1000.0 + UPLOAD_WINDOW_SECONDS + 5
    assert upload_skipped(CLAIM, "shop-1-0-274-C", later, claimed_running=True) == (
        "shop-1-0-274-A is still releasing shop/1.0.274"
    )
    assert upload_skipped(CLAIM, "shop-1-0-274-C", later, claimed_running=False) is None
    assert upload_skipped(CLAIM, "shop-1-0-274-C", 1004.0, claimed_running=False, window=3) is None


def test_a_sweep_input_carries_each_asgs_target_and_never_a_default_target() -> None:
    sweep = trigger(event("scheduled_event.json"))
    found = {
        "a": {"version": "1.0.274", "from": "s3://b/ (the highest build of web)"},
        "z": {"version": None, "from": "x"},
    }
    release = release_input(sweep, ["a"], {"target_version": "0.0.1"}, found)
    assert release["target_version"] is None and release["asg_targets"] == {"a": found["a"]}


@pytest.mark.parametrize(
    ("args", "version", "source"),
    [
        (("web", "bkt", "1.0.274", None, None), "1.0.274", "s3://bkt/ (the highest build of web)"),
        (("web", "bkt", "1.0.274", "/asg-terminator/a/build", "1.0.1"), "1.0.274", "s3://bkt/"),  # uploads first
        (("web", "bkt", None, "/asg-terminator/a/build", " v1.0.280\n"), "1.0.280", "ssm:/asg-terminator/a/build"),
        ((None, "bkt", None, "/asg-terminator/a/build", "1.0.280"), "1.0.280", "ssm:"),
        (("web", "bkt", None, None, None), None, "no build of web in s3://bkt/; no pin_parameter"),
        (("web", None, None, None, None), None, "no artifacts bucket to look for its builds in; no pin_parameter"),
        ((None, "bkt", None, None, None), None, "no asg-terminator:app tag to look for its builds by"),
        (("web", "bkt", None, "/asg-terminator/a/build", None), None, "no parameter /asg-terminator/a/build"),
        (("web", "bkt", None, "/asg-terminator/a/build", "latest"), None, "/asg-terminator/a/build names no version"),
    ],
)
def test_a_sweep_targets_the_highest_upload_else_the_pin_else_nothing(
    args: tuple[Any, ...], version: str | None, source: str
) -> None:
    found = sweep_target("a", *args)
    assert found["version"] == version and source in found["from"] and len(found["from"]) <= 300


def test_an_asgs_target_is_the_inputs_else_the_sweeps_and_a_sweep_that_found_none_skips_it() -> None:
    assert asg_target(settings(target_version="1.0.274"), "a") == "1.0.274"
    assert asg_target(settings(), "a") is None  # a console start: the highest version read
    found = {"a": {"version": "1.0.274", "from": "s3"}, "b": {"version": None, "from": "nothing uploaded to release"}}
    assert asg_target(settings(asg_targets=found), "a") == "1.0.274"
    with pytest.raises(AsgSkippedError, match=r"^b: skipped: nothing uploaded to release$"):
        asg_target(settings(asg_targets=found), "b")
    with pytest.raises(AsgSkippedError, match=r"^c: skipped: the sweep resolved no target for it$"):
        asg_target(settings(asg_targets=found), "c")


def test_asg_targets_go_without_a_target_version_and_must_name_versions() -> None:
    defaults = settings()
    both = {"asg_names": ["a"], "target_version": "1.0.274", "asg_targets": {"a": {"version": "1.0.1", "from": "s3"}}}
    with pytest.raises(InvalidExecutionInputError, match="asg_targets: give target_version or asg_targets"):
        settings_from_input(both, defaults)
    bad = {"asg_names": ["a"], "asg_targets": {"a": {"version": "latest", "from": "s3"}}}
    with pytest.raises(InvalidExecutionInputError, match="asg_targets: a: 'latest' is not a version"):
        settings_from_input(bad, defaults)
    fine = {"asg_names": ["a"], "asg_targets": {"a": {"version": None, "from": "nothing"}}}
    assert settings_from_input(fine, defaults)["settings"]["asg_targets"] == fine["asg_targets"]


def test_an_apps_builds_are_listed_under_its_prefix_only_with_the_default_pattern() -> None:
    assert artifacts.listing_prefix("web") == "web/"
    assert artifacts.listing_prefix("web", r"^builds/(?P<app>[^/]+)/(?P<version>[^/]+)\.zip$") == ""
