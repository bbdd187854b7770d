"""canary_analysis at a checkpoint, in the pure domain: the release remembers the replacements it
launched, a checkpoint names who is compared (the canary, the baseline), and the judgement goes on,
asks a human or fails the ASG."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tasks import contracts
from tasks.domain import canary_checkpoint, notifications
from tasks.domain.canary import FAIL, MARGINAL, PASS, CanaryAnalysis, CanaryMetric
from tasks.domain.decide import decide
from tasks.domain.fleet import LAUNCHED_IDS, Action, Decision, Pending, Progress
from tasks.domain.policy import Policy
from tasks.domain.replacement import check_replacement
from tasks.errors import CanaryAnalysisFailedError, InvalidStepInputError
from tests.unit.builders import ASG, OLD, T0, TARGET, at, decision_of, fleet, instance, policy, settings, stamp

LATENCY = CanaryMetric("App", "Latency", "increase", tolerance_percent=10, critical=True)
ERRORS = CanaryMetric("App", "Errors", "increase", "Sum")
ANALYSIS = CanaryAnalysis((LATENCY, ERRORS), period_seconds=1, min_samples=5, pass_score=95, marginal_score=50)
POLICY = policy(target_version=TARGET, checkpoints=(1, "100%"), bake_seconds=10, canary_analysis=True)


def _replaced(progress: Progress, known: tuple[str, ...], *instances: Any) -> Progress:
    """The ledger once a batch's replacements serve the target."""
    return check_replacement(fleet(*instances), progress, POLICY, at(30), known)


def _pending(terminated: tuple[str, ...]) -> Progress:
    return Progress(
        target_version=TARGET,
        versions_before={OLD: 3},
        batches=(terminated,),
        pending=Pending(terminated, None, stamp(0), "waiting"),
    )


def test_a_done_batch_records_the_replacements_it_launched() -> None:
    known = ("i-o1", "i-o2", "i-o3")
    pending = _pending(("i-o1",))
    waiting = _replaced(pending, known, instance("i-o2", OLD), instance("i-o3", OLD), instance("i-n1", None))
    assert waiting.pending is not None and waiting.launched == ()  # not serving yet: not recorded
    done = _replaced(pending, known, instance("i-o2", OLD), instance("i-o3", OLD), instance("i-n1"))
    assert (done.pending, done.launched) == (None, ("i-n1",))
    again = done.update(pending=Pending(("i-o2",), None, stamp(40), "waiting"))
    assert _replaced(
        again, ("i-o2", "i-o3", "i-n1"), instance("i-o3", OLD), instance("i-n1"), instance("i-n2")
    ).launched == ("i-n1", "i-n2")


def test_the_ledger_keeps_the_newest_launched_ids_and_a_chain_carries_them() -> None:
    many = Progress().with_launched(tuple(f"i-{n:04d}" for n in range(LAUNCHED_IDS + 5)))
    assert len(many.launched) == LAUNCHED_IDS and many.launched[-1] == f"i-{LAUNCHED_IDS + 4:04d}"
    assert many.launched[0] == "i-0005"
    assert many.carried().launched == many.launched
    record = many.to_record()
    assert Progress.from_record(record) == many
    assert contracts.problems("pass_checkpoint.output", record) == []
    # A record names the list even empty (a continuing ASG's outcome carries it on: its path must not
    # fail), and a record written before the list was added still loads.
    empty = Progress().to_record()
    assert empty["launched"] == []
    assert Progress.from_record({k: v for k, v in empty.items() if k != "launched"}) == Progress()


def _at_checkpoint(*instances: Any, launched: tuple[str, ...] = ("i-n1",), policy: Policy = POLICY) -> Progress:
    ledger = Progress(target_version=TARGET, versions_before={OLD: 3}, batches=(("i-o1",),), launched=launched)
    return decide(fleet(*instances), ledger, policy, T0)


def test_a_checkpoint_names_the_canary_and_the_baseline() -> None:
    progress = _at_checkpoint(
        instance("i-t0"),  # already ran the target before the release: not this release's canary
        instance("i-o2", OLD),
        instance("i-o3", OLD),
        instance("i-x", "1.0.100"),  # a third version is no baseline
        instance("i-n1"),
    )
    decision = decision_of(progress)
    assert decision.action == "checkpoint"
    assert decision.canary == {"canary_ids": ["i-n1"], "baseline_ids": ["i-o2", "i-o3"], "baseline_version": OLD}
    assert decision.message.endswith(
        "; then judging the canary (canary 1 instances on the target, baseline 2 on 1.0.273)"
    )
    assert contracts.problems("pass_checkpoint.input", _event(progress)) == []


def test_only_serving_instances_are_compared() -> None:
    decision = decision_of(
        _at_checkpoint(
            instance("i-o2", OLD),
            instance("i-o3", OLD, health="Unhealthy"),
            instance("i-n1", lifecycle="Standby"),
            instance("i-n2"),
            launched=("i-n1", "i-n2"),
        )
    )
    assert decision.canary == {"canary_ids": ["i-n2"], "baseline_ids": ["i-o2"], "baseline_version": OLD}


def test_each_side_is_capped_newest_canaries_oldest_baseline() -> None:
    olds = [instance(f"i-o{n:03d}", OLD) for n in range(60)]
    news = [instance(f"i-n{n:03d}") for n in range(60)]
    cohort = canary_checkpoint.cohorts(
        fleet(*olds, *news),
        Progress(target_version=TARGET, versions_before={OLD: 120}, launched=tuple(i.id for i in news)),
    )
    assert cohort["canary_ids"] == [i.id for i in news[-canary_checkpoint.MAX_PER_SIDE :]]
    assert cohort["baseline_ids"] == [i.id for i in olds[: canary_checkpoint.MAX_PER_SIDE]]


def test_without_a_previous_version_there_is_no_baseline() -> None:
    cohort = canary_checkpoint.cohorts(
        fleet(instance("i-n1")), Progress(target_version=TARGET, versions_before={TARGET: 1}, launched=("i-n1",))
    )
    assert cohort == {"canary_ids": ["i-n1"], "baseline_ids": [], "baseline_version": None}
    assert (
        canary_checkpoint.describe_cohorts(cohort)
        == "canary 1 instances on the target, baseline 0 on no previous version"
    )


def test_a_checkpoint_with_no_baseline_left_is_not_judged() -> None:
    """ "100%": every instance replaced, nothing to compare the canary with."""
    progress = _at_checkpoint(instance("i-n1"), instance("i-n2"), launched=("i-n1", "i-n2"))
    decision = decision_of(progress)
    assert (decision.action, decision.canary) == ("checkpoint", None)
    assert decision.message.endswith("; the canary is not judged: no instance still serves the version being replaced")
    assert canary_checkpoint.cohort_of(progress) is None


def test_without_canary_analysis_a_checkpoint_names_nobody() -> None:
    progress = _at_checkpoint(
        instance("i-o2", OLD), instance("i-n1"), policy=policy(target_version=TARGET, checkpoints=(1,))
    )
    assert decision_of(progress).canary is None
    assert "canary" not in progress.to_record()["decision"]


def test_the_policy_reads_canary_analysis_from_the_settings() -> None:
    assert Policy.from_settings(settings()).canary_analysis is False
    assert Policy.from_settings(settings(canary_analysis=ANALYSIS.to_record())).canary_analysis is True


# -- the judgement ---------------------------------------------------------------------------------

COHORT = {"canary_ids": ["i-n1", "i-n2"], "baseline_ids": ["i-o2", "i-o3"], "baseline_version": OLD}
BASE = [95.0, 100.0, 105.0, 98.0, 102.0]


def _read(latency_factor: float, errors: float = 0.0, canary: tuple[str, ...] = ("i-n1", "i-n2")) -> dict[Any, Any]:
    read: dict[tuple[int, str], list[float]] = {}
    for instance_id in ("i-o2", "i-o3"):
        read[(0, instance_id)] = list(BASE)
        read[(1, instance_id)] = [0.0] * 5
    for instance_id in canary:
        read[(0, instance_id)] = [v * latency_factor for v in BASE]
        read[(1, instance_id)] = [errors] * 5
    return read


def test_each_side_pools_its_instances_datapoints() -> None:
    judgement = canary_checkpoint.judge(ANALYSIS, COHORT, _read(3.0))
    latency = judgement.results[0]
    assert (latency.canary_samples, latency.baseline_samples) == (10, 10)
    assert (latency.canary_median, latency.baseline_median, latency.verdict) == (300, 100, FAIL)
    # Datapoints of instances outside the cohort are not counted, an instance with none adds none.
    only_one = canary_checkpoint.judge(ANALYSIS, COHORT, {**_read(1.0, canary=("i-n1",)), (0, "i-x"): [1e9]})
    assert only_one.results[0].canary_samples == 5


def _checkpoint_progress() -> Progress:
    return Progress(
        target_version=TARGET,
        versions_before={OLD: 3},
        decision=Decision("checkpoint", "checkpoint 1 of 2", canary=COHORT),
    )


WINDOW = {"start": stamp(0), "end": stamp(10)}


def test_a_pass_goes_on_carrying_the_judgement() -> None:
    judgement = canary_checkpoint.judge(ANALYSIS, COHORT, _read(1.0))
    assert judgement.verdict == PASS
    progress = canary_checkpoint.apply(ASG, _checkpoint_progress(), judgement, WINDOW)
    decision = decision_of(progress)
    assert decision.action == "checkpoint"
    assert decision.message == judgement.summary(ASG)
    assert decision.canary is not None
    assert decision.canary["judgement"]["verdict"] == PASS
    assert decision.canary["window"] == WINDOW
    record = json.loads(json.dumps(progress.to_record(), allow_nan=False))
    assert contracts.problems("pass_checkpoint.output", record) == []


def test_with_approve_checkpoints_a_pass_asks_the_human_with_the_judgement() -> None:
    judgement = canary_checkpoint.judge(ANALYSIS, COHORT, _read(1.0))
    decision = decision_of(canary_checkpoint.apply(ASG, _checkpoint_progress(), judgement, WINDOW, approval=True))
    assert decision.action == "checkpoint"  # ApprovalRequired holds it for approve_checkpoints
    assert decision.message == f"{judgement.summary(ASG)}; waiting for approval (asg-terminator approve|reject)"


def test_a_marginal_canary_waits_for_a_human() -> None:
    judgement = canary_checkpoint.judge(ANALYSIS, COHORT, _read(1.0, errors=1.0))  # errors fail, latency passes
    assert (judgement.score, judgement.verdict) == (50, MARGINAL)
    decision = decision_of(canary_checkpoint.apply(ASG, _checkpoint_progress(), judgement, WINDOW))
    assert decision.action == Action.APPROVAL
    assert decision.message.startswith(f"{ASG} => canary score 50: MARGINAL")
    assert decision.message.endswith("waiting for approval (asg-terminator approve|reject)")


@pytest.mark.parametrize(
    ("read", "says"),
    [
        (_read(3.0), "App/Latency (Average): FAIL: canary median 300 vs baseline median 100 (+200 %"),
        (
            {},
            "App/Latency (Average): NODATA: 0 canary and 0 baseline datapoints",
        ),  # missing data fails a critical metric
    ],
)
def test_a_failed_canary_fails_the_asg_naming_the_metrics_and_the_cohorts(read: dict[Any, Any], says: str) -> None:
    judgement = canary_checkpoint.judge(ANALYSIS, COHORT, read)
    with pytest.raises(CanaryAnalysisFailedError) as failed:
        canary_checkpoint.apply(ASG, _checkpoint_progress(), judgement, WINDOW)
    message = str(failed.value)
    assert message.startswith(f"{ASG} => canary score 0: FAIL")
    assert says in message
    assert message.endswith("(canary 2 instances on the target, baseline 2 on 1.0.273)")


def test_a_checkpoint_without_a_cohort_is_a_defect() -> None:
    judgement = canary_checkpoint.judge(ANALYSIS, COHORT, _read(1.0))
    for progress in (Progress(), Progress(decision=Decision("checkpoint", "x"))):
        with pytest.raises(InvalidStepInputError, match="names no canary"):
            canary_checkpoint.apply(ASG, progress, judgement, WINDOW)
        assert canary_checkpoint.cohort_of(progress) is None


def _event(progress: Progress) -> dict[str, Any]:
    return {
        "asg_name": ASG,
        "progress": progress.to_record(),
        "alarm_names": [],
        "canary_analysis": ANALYSIS.to_record(),
        "bake_seconds": 10,
        "event_bus_name": None,
    }


def test_the_canary_judged_notification_carries_the_table() -> None:
    judgement = canary_checkpoint.judge(ANALYSIS, COHORT, _read(3.0))
    ledger = _checkpoint_progress().update(
        release_id="arn:aws:states:us-east-1:1:execution:r:web-1", checkpoints_passed=1
    )
    detail_type, detail = notifications.canary_judged(ASG, ledger, COHORT, judgement)
    assert detail_type == "Canary Judged"
    assert (detail["checkpoint"], detail["verdict"], detail["score"]) == (2, FAIL, 0)
    assert (detail["target_version"], detail["baseline_version"]) == (TARGET, OLD)
    assert (detail["canary_ids"], detail["baseline_ids"]) == (COHORT["canary_ids"], COHORT["baseline_ids"])
    assert detail["message"] == judgement.summary(ASG)
    latency = detail["results"][0]
    assert (latency["canary_median"], latency["baseline_median"], latency["shift_percent"]) == (300, 100, 200)
    event = {"detail-type": detail_type, "detail": json.loads(json.dumps(detail, allow_nan=False))}
    assert contracts.problems("notification", event) == []
    assert contracts.problems("notification", {**event, "detail": {**detail, "verdict": "NODATA"}}) != []
