"""Issue #6 item 5 on the real ASL: the EventBridge events of a release, as a subscriber receives them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tasks import contracts
from tests.functional.support import subscribe_to_releases

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.workflow.conftest import World

OLD, NEW = "1.0.266", "1.0.274"


@pytest.fixture
def subscriber(world: World) -> Callable[[], list[dict[str, Any]]]:
    return subscribe_to_releases()


def _shown(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(e["detail-type"], e["detail"].get("asg_name")) for e in events]


def test_a_release_announces_its_start_each_batch_and_its_end(
    world: World, subscriber: Callable[[], list[dict[str, Any]]]
) -> None:
    world.fleet(build=NEW)
    web = world.asg("live_asg_web", 3, OLD)
    world.asg("live_asg_api", 1, NEW)

    execution, _ = world.release(
        {
            "asg_names": ["live_asg_web", "live_asg_api"],
            "target_version": NEW,
            "min_healthy": 2,
            "event_bus_name": "default",
        }
    )

    assert execution.status == "SUCCEEDED", execution.cause
    events = subscriber()
    assert sorted(_shown(events)[:2]) == [
        ("ASG Release Started", "live_asg_api"),
        ("ASG Release Started", "live_asg_web"),
    ]
    assert _shown(events)[2:] == [("Batch Replaced", "live_asg_web")] * 3 + [("Release Ended", None)]
    batches = [e["detail"] for e in events if e["detail-type"] == "Batch Replaced"]
    assert [b["batch_count"] for b in batches] == [1, 2, 3]
    assert sorted(i for b in batches for i in b["instance_ids"]) == sorted(web)
    end = events[-1]["detail"]
    assert end["status"] == "SUCCEEDED" and {a["asg_name"]: a["terminated_count"] for a in end["asgs"]} == {
        "live_asg_web": 3,
        "live_asg_api": 0,
    }
    assert {e["detail"]["release_id"] for e in events} == {execution.arn}
    for event in events:
        assert (
            contracts.problems("notification", {"detail-type": event["detail-type"], "detail": event["detail"]}) == []
        )


def test_a_failed_release_says_so_and_a_dry_run_says_nothing(
    world: World, subscriber: Callable[[], list[dict[str, Any]]]
) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 1, OLD)  # its only instance is the floor: FloorBlocksReleaseError
    release = {"asg_names": ["live_asg_web"], "target_version": NEW, "min_healthy": 1, "event_bus_name": "default"}

    planned, _ = world.release({**release, "dry_run": True, "min_healthy": 0})
    assert planned.status == "SUCCEEDED" and subscriber() == []

    failed, _ = world.release(release)
    assert failed.status == "FAILED"
    events = subscriber()
    assert _shown(events) == [("ASG Release Started", "live_asg_web"), ("Release Ended", None)]
    (asg,) = events[-1]["detail"]["asgs"]
    assert events[-1]["detail"]["status"] == "FAILED" and asg["error"] == "FloorBlocksReleaseError"


def test_a_release_that_continues_as_new_executions_announces_itself_once(
    world: World, subscriber: Callable[[], list[dict[str, Any]]]
) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 4, OLD)

    execution, _ = world.release(
        {
            "asg_names": ["live_asg_web"],
            "target_version": NEW,
            "min_healthy": 3,
            "max_batch": 1,
            "replacement_timeout_seconds": 3,
            "max_history_events": 200,
            "event_bus_name": "default",
        },
        timeout=240,
    )

    assert execution.status == "SUCCEEDED", execution.cause
    assert len(execution.chain) >= 2
    events = subscriber()
    assert _shown(events) == [("ASG Release Started", "live_asg_web")] + [("Batch Replaced", "live_asg_web")] * 4 + [
        ("Release Ended", None)
    ]
    assert {e["detail"]["release_id"] for e in events} == {execution.chain[0].arn}
