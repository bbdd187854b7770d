"""SelectBatch through its handler: the next batch, convergence, waiting, or a named failure. Each
fleet is stored in the fleet bucket (moto) first, as ReadVersions stores it, and passed by its key."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tasks.errors import FloorBlocksReleaseError, InvalidStepInputError, ReleaseStalledError
from tasks.handlers.select_batch import handler as select_batch
from tests.functional.support import NEW, OLD, ago, empty_progress, fleet_record, instance_record, stored
from tests.unit.builders import settings

RELEASE_ID = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:test"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


pytestmark = pytest.mark.usefixtures("aws")


def select(fleet: dict[str, Any], progress: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    event = {"fleet": stored(fleet), "progress": progress or empty_progress(), "settings": settings(**overrides)}
    state = select_batch({**event, "asg_name": fleet["asg_name"], "release_id": RELEASE_ID}, None)
    return state["progress"]


def mixed_fleet() -> dict[str, Any]:
    return fleet_record(
        [
            instance_record("i-0a1", OLD, az="us-east-1a"),  # oldest launched first
            instance_record("i-0a2", OLD, az="us-east-1a"),
            instance_record("i-0b1", "1.0.270", az="us-east-1b"),
            instance_record("i-0b2", NEW, az="us-east-1b"),
        ]
    )


def test_the_oldest_instances_are_chosen_one_zone_at_a_time_within_the_floor() -> None:
    progress = select(mixed_fleet(), min_healthy=2)

    assert progress["decision"] == {
        "action": "terminate",
        "message": "web => lowest version 1.0.266, highest version 1.0.274, 2 instances to terminate",
        "batch": ["i-0a1", "i-0b1"],
        "fleet_key": stored(mixed_fleet())["key"],  # the read it saw: CheckReplacement's known instances
        "outdated_after": 1,  # i-0a2 is left for a later batch (a surge is kept for it)
    }
    assert progress["target_version"] == NEW
    assert progress["versions_before"] == {OLD: 2, "1.0.270": 1, NEW: 1}
    assert TIMESTAMP.match(progress["started_at"])
    assert (progress["pending"], progress["finished_at"], progress["versions_after"]) == (None, None, None)


def test_max_batch_caps_the_batch() -> None:
    assert select(mixed_fleet(), min_healthy=1, max_batch=1)["decision"]["batch"] == ["i-0a1"]


def test_min_healthy_percent_raises_the_floor() -> None:
    # ceil(75% of 4) = 3 must keep serving: one at a time.
    assert select(mixed_fleet(), min_healthy=1, min_healthy_percent=75)["decision"]["batch"] == ["i-0a1"]


def test_a_pinned_older_target_replaces_the_newer_instances() -> None:
    progress = select(mixed_fleet(), target_version=OLD, min_healthy=1)

    assert progress["target_version"] == OLD
    assert progress["decision"]["batch"] == ["i-0b1", "i-0b2"]


def test_a_fleet_serving_the_target_has_converged() -> None:
    fleet = fleet_record([instance_record("i-0a1", NEW), instance_record("i-0b1", NEW, az="us-east-1b")])

    progress = select(fleet, target_version=NEW)

    assert progress["decision"] == {
        "action": "converged",
        "message": "web => converged: 2 instances serve 1.0.274",
        "batch": [],
    }
    assert progress["versions_after"] == progress["versions_before"] == {NEW: 2}
    assert TIMESTAMP.match(progress["finished_at"])


def test_a_floor_that_leaves_no_headroom_fails_with_floor_blocks_release() -> None:
    fleet = fleet_record([instance_record("i-0a1", OLD), instance_record("i-0a2", NEW)])

    with pytest.raises(FloorBlocksReleaseError) as raised:
        select(fleet, min_healthy=2)

    assert str(raised.value) == (
        "web: healthy floor 2 leaves no headroom at desired capacity 2 (2 serving), so none of the 1 outdated "
        "instances can be terminated; lower min_healthy/min_healthy_percent (or the ASG's floor tags) "
        "or raise desired capacity"
    )


def test_a_booting_replacement_makes_the_release_wait_and_says_why() -> None:
    fleet = fleet_record(
        [
            instance_record("i-0a1", OLD),
            instance_record("i-0a2", NEW),
            instance_record("i-0a3", None, reason="HTTP 503"),
        ]
    )

    progress = select(fleet, min_healthy=2)

    assert progress["decision"]["action"] == "wait"
    assert progress["decision"]["message"] == (
        "web => waiting: i-0a3 HTTP 503; serving 2 of desired 3; floor 2 leaves no headroom"
    )
    assert TIMESTAMP.match(progress["waiting_since"])


def test_waiting_past_the_replacement_timeout_fails_with_release_stalled() -> None:
    fleet = fleet_record([instance_record("i-0a1", OLD), instance_record("i-0a2", None, reason="HTTP 503")])
    progress = {**empty_progress(), "target_version": NEW, "waiting_since": ago(1000)}

    with pytest.raises(ReleaseStalledError) as raised:
        select(fleet, progress, min_healthy=1, replacement_timeout_seconds=900)

    assert re.fullmatch(
        r"web: not converged on 1\.0\.274 and nothing could be terminated for 100\d s \(timeout 900 s\): "
        r"i-0a2 HTTP 503; serving 1 of desired 2; floor 1 leaves no headroom",
        str(raised.value),
    )


def test_unreadable_instances_are_replaced_only_when_asked() -> None:
    fleet = fleet_record(
        [instance_record("i-0a1", NEW), instance_record("i-0a2", None, reason="unparsable body 'It works!'")]
    )

    kept = select(fleet, min_healthy=1)
    replaced = select(fleet, min_healthy=1, replace_unreadable=True)

    assert kept["decision"]["action"] == "wait"
    assert replaced["decision"]["batch"] == ["i-0a2"]


def test_no_version_read_anywhere_waits_for_a_target() -> None:
    fleet = fleet_record([instance_record("i-0a1", None, reason="HTTP 503")])

    progress = select(fleet)

    assert progress["target_version"] is None
    assert progress["decision"]["message"] == "web => waiting: no InService instance's version could be read yet"


def test_settings_missing_a_field_is_invalid_step_input() -> None:
    incomplete = {k: v for k, v in settings().items() if k != "min_healthy"}

    with pytest.raises(InvalidStepInputError, match=r"^select_batch input: settings\.min_healthy: required field"):
        select_batch(
            {
                "asg_name": "live_asg_web",
                "release_id": RELEASE_ID,
                "fleet": stored(mixed_fleet()),
                "progress": empty_progress(),
                "settings": incomplete,
            },
            None,
        )
