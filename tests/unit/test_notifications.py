"""Issue #6 item 5: what each notification says, against its documented schema."""

from __future__ import annotations

import pytest

from tasks import contracts
from tasks.domain import notifications
from tasks.domain.fleet import Progress
from tests.unit.builders import ASG, OLD, TARGET

RELEASE = "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:web-1"


def valid(event: tuple[str, dict[str, object]]) -> list[str]:
    detail_type, detail = event
    return contracts.problems("notification", {"detail-type": detail_type, "detail": detail})


def test_started_names_the_release_and_the_asg() -> None:
    event = notifications.started(RELEASE, ASG)
    assert event == ("ASG Release Started", {"release_id": RELEASE, "asg_name": ASG})
    assert valid(event) == []


def test_a_replaced_batch_names_its_instances_and_the_counts_so_far() -> None:
    ledger = Progress(target_version=TARGET, earlier_batches=4, earlier_terminated=8).with_batch(("i-1", "i-2"))
    event = notifications.batch_replaced(RELEASE, ASG, ledger, ("i-1", "i-2"))
    assert event[1] == {
        "release_id": RELEASE,
        "asg_name": ASG,
        "target_version": TARGET,
        "instance_ids": ["i-1", "i-2"],
        "batch_count": 5,
        "terminated_count": 10,
    }
    assert valid(event) == []


def test_an_approval_request_says_how_to_answer_and_carries_no_token() -> None:
    waiting = f"{RELEASE}-c2"
    event = notifications.approval_requested(RELEASE, ASG, waiting, "checkpoint 1 of 2")
    assert event == (
        "Approval Requested",
        {
            "release_id": RELEASE,
            "asg_name": ASG,
            "execution_arn": waiting,
            "message": "checkpoint 1 of 2",
            "approve": f"asg-terminator approve {waiting} --asg {ASG}",
            "reject": f"asg-terminator reject {waiting} --asg {ASG} --reason TEXT",
        },
    )
    assert valid(event) == []


def test_the_end_is_failed_when_any_asg_failed_and_lists_every_one() -> None:
    converged = {"asg_name": "web", "status": "CONVERGED", "target_version": TARGET, "batch_count": 2}
    converged |= {"terminated_count": 3, "versions_before": {OLD: 3}, "batches": [["i-1"]]}
    failed = {"asg_name": "api", "status": "FAILED", "target_version": None, "batch_count": 0}
    failed |= {"terminated_count": 0, "error": "FloorBlocksReleaseError", "cause": "api: healthy floor 1 ..."}

    event = notifications.ended(RELEASE, [converged, failed])

    assert event[0] == "Release Ended" and event[1]["status"] == "FAILED"
    assert event[1]["asgs"] == [
        {"asg_name": "web", "status": "CONVERGED", "target_version": TARGET, "batch_count": 2, "terminated_count": 3},
        {
            "asg_name": "api",
            "status": "FAILED",
            "target_version": None,
            "batch_count": 0,
            "terminated_count": 0,
            "error": "FloorBlocksReleaseError",
        },
    ]
    assert valid(event) == []
    assert notifications.ended(RELEASE, [converged])[1]["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        (("Batch Replaced", {"release_id": RELEASE}), "detail.asg_name: required field is missing"),
        (("Release Ended", {"release_id": RELEASE, "status": "DONE", "asgs": []}), "detail.status: 'DONE'"),
        (("Release Started", {}), "detail-type: 'Release Started' is not one of"),
    ],
)
def test_a_detail_off_its_schema_is_named(event: tuple[str, dict[str, object]], problem: str) -> None:
    assert any(p.startswith(problem) for p in valid(event)), valid(event)
