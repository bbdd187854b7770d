"""A dry run: the decision carries each instance's verdict (the batch first, at most PLAN_ENTRIES, the
rest counted); the report shows it."""

from __future__ import annotations

import pytest

from tasks.domain.decide import decide
from tasks.domain.fleet import Progress
from tasks.errors import ReleaseFailedError
from tests.unit.builders import OLD, TARGET, at, fleet, instance, outcome_progress, policy, summarized


def verdicts(progress: Progress) -> dict[str, str]:
    assert progress.decision is not None
    return {entry["id"]: entry["verdict"] for entry in progress.decision.plan}


def test_every_instance_gets_a_verdict() -> None:
    seen = fleet(
        instance("i-0a01", OLD),
        instance("i-0a02", OLD),
        instance("i-0a03", TARGET),
        instance("i-0a04", None, reason="timeout after 2 s"),
        instance("i-0a05", OLD, health="Unhealthy"),
        instance("i-0a06", None, lifecycle="Pending", reason=None),
        desired=5,
    )

    planned = decide(seen, Progress(), policy(target_version=TARGET, min_healthy=2, max_batch=1, dry_run=True), at(0))

    assert planned.decision is not None and planned.decision.action == "terminate"
    assert verdicts(planned) == {
        "i-0a01": "terminate: in the next batch",
        "i-0a02": "later: outdated, beyond this batch (serving 3, floor 2)",
        "i-0a03": f"keep: serves the target {TARGET}",
        "i-0a04": "keep: version unreadable (timeout after 2 s); it blocks convergence",
        "i-0a05": "keep: Unhealthy, not serving (Auto Scaling's to handle)",
        "i-0a06": "keep: Pending, not serving (Auto Scaling's to handle)",
    }


def test_without_any_version_read_there_is_no_target_yet() -> None:
    planned = decide(fleet(instance("i-0a01", None)), Progress(), policy(dry_run=True), at(0))
    assert verdicts(planned) == {"i-0a01": "keep: HTTP 503; no target yet"}
    assert planned.decision is not None and planned.decision.action == "wait"


def test_no_plan_outside_a_dry_run_and_none_in_the_record() -> None:
    decided = decide(fleet(instance("i-0a01", OLD)), Progress(), policy(target_version=TARGET, min_healthy=0), at(0))
    assert decided.decision is not None and decided.decision.plan == ()
    assert "plan" not in decided.to_record()["decision"]


def test_a_planned_asg_reports_its_plan_and_the_release_succeeds() -> None:
    planned = decide(
        fleet(instance("i-0a01", OLD)), Progress(), policy(target_version=TARGET, min_healthy=0, dry_run=True), at(0)
    )
    outcome = {
        "asg_name": "web",
        "status": "PLANNED",
        "progress": outcome_progress(planned.to_record(), "PLANNED"),
        "release_id": "arn:x",
    }

    report = summarized([outcome], at(1))

    assert report["status"] == "SUCCEEDED"
    assert report["asgs"][0]["status"] == "PLANNED" and report["asgs"][0]["terminated_count"] == 0
    assert report["asgs"][0]["plan"] == [
        {"id": "i-0a01", "version": OLD, "state": "InService", "verdict": "terminate: in the next batch"}
    ]


def test_a_failure_next_to_a_plan_names_both() -> None:
    planned = decide(
        fleet(instance("i-0a01", OLD)), Progress(), policy(target_version=TARGET, min_healthy=0, dry_run=True), at(0)
    )
    outcomes = [
        {
            "asg_name": "web",
            "status": "PLANNED",
            "progress": outcome_progress(planned.to_record(), "PLANNED"),
            "release_id": "arn:x",
        },
        {
            "asg_name": "api",
            "status": "FAILED",
            "progress": outcome_progress(Progress().to_record(), "FAILED"),
            "release_id": "arn:x",
            "error": "AsgNotFoundError",
            "cause": "api: no Auto Scaling group of that name",
        },
    ]
    with pytest.raises(ReleaseFailedError, match=r"web PLANNED \(dry run\) for 1.0.274; api FAILED AsgNotFoundError"):
        summarized(outcomes, at(1))


def test_a_large_asg_reports_the_plan_entries_it_lists_and_counts_the_rest() -> None:
    from tasks.domain.dry_run import PLAN_ENTRIES

    seen = fleet(*(instance(f"i-0a{n:04d}", OLD) for n in range(PLAN_ENTRIES + 7)))
    planned = decide(seen, Progress(), policy(target_version=TARGET, min_healthy=1, max_batch=2, dry_run=True), at(0))
    outcome = {
        "asg_name": "web",
        "status": "PLANNED",
        "progress": outcome_progress(planned.to_record(), "PLANNED"),
        "release_id": "arn:x",
    }

    report = summarized([outcome], at(1))["asgs"][0]

    assert len(report["plan"]) == PLAN_ENTRIES and report["plan_omitted"] == 7
    assert [e["verdict"] for e in report["plan"][:3]] == ["terminate: in the next batch"] * 2 + [
        "later: outdated, beyond this batch (serving 107, floor 1)"
    ]


def test_a_ledger_with_no_decision_gets_no_plan() -> None:
    from tasks.domain.dry_run import with_plan

    seen = fleet(instance("i-0a01", OLD), desired=1)
    undecided = Progress(target_version=TARGET)

    assert with_plan(seen, undecided, policy(target_version=TARGET, dry_run=True)) == undecided
