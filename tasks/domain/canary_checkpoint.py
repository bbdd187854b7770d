"""canary_analysis at a checkpoint: who is compared, and what the judgement does to the release.

SelectBatch, deciding that a checkpoint is reached, names both sides from the fleet it just read:
the canary is the instances this release launched (``Progress.launched``) that serve the target,
the baseline the instances that still serve the version being replaced (the one most instances ran
when the release started). A checkpoint with no baseline left (``"100%"``: every instance replaced)
is not judged: there is nothing to compare with. After the bake, PassCheckpoint reads each metric per instance over the
bake that just ended, pools each side's datapoints and judges them (tasks/domain/canary.py):
PASS goes on, MARGINAL waits for a human (the decision becomes ``approval``, whatever
``approve_checkpoints`` says), FAIL fails the ASG's release with CanaryAnalysisFailedError.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tasks.domain import canary, rollback
from tasks.domain.checkpoints import APPROVAL_PROMPT
from tasks.domain.fleet import Action
from tasks.errors import CanaryAnalysisFailedError, InvalidStepInputError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tasks.domain.canary import CanaryAnalysis, CanaryJudgement
    from tasks.domain.fleet import Decision, Fleet, Progress

# Instances read per side: 10 metrics x 100 instances is two GetMetricData calls (500 queries each),
# and 50 instances' datapoints are more than a pooled test needs; beyond that, the newest canaries
# and the oldest baseline instances (the fleet's order) are read.
MAX_PER_SIDE = 50


def cohorts(fleet: Fleet, progress: Progress) -> dict[str, Any]:
    """Both sides of the comparison, from the read that reached the checkpoint."""
    target = progress.target_version or ""
    launched = set(progress.launched)
    canaries = [i.id for i in fleet.instances if i.id in launched and i.serves(target)]
    baseline_version = rollback.previous_version(progress.versions_before, target)
    baseline = [] if baseline_version is None else [i.id for i in fleet.instances if i.serves(baseline_version)]
    return {
        "canary_ids": canaries[-MAX_PER_SIDE:],
        "baseline_ids": baseline[:MAX_PER_SIDE],
        "baseline_version": baseline_version,
    }


def describe_cohorts(cohort: Mapping[str, Any]) -> str:
    version = cohort["baseline_version"] or "no previous version"
    return (
        f"canary {len(cohort['canary_ids'])} instances on the target, "
        f"baseline {len(cohort['baseline_ids'])} on {version}"
    )


def cohort_of(progress: Progress) -> dict[str, Any] | None:
    """Who to compare at this checkpoint; None when SelectBatch found nothing to judge (no instance
    still serves the version being replaced: a ``"100%"`` checkpoint)."""
    return None if progress.decision is None else progress.decision.canary


def _checkpoint(progress: Progress) -> tuple[Decision, dict[str, Any]]:
    decision = progress.decision
    if decision is None or decision.canary is None:
        raise InvalidStepInputError("PassCheckpoint: canary_analysis, but progress.decision names no canary")
    return decision, decision.canary


def judge(
    analysis: CanaryAnalysis, cohort: Mapping[str, Any], datapoints: Mapping[tuple[int, str], Sequence[float]]
) -> CanaryJudgement:
    """``datapoints``: per (metric index, instance id) what was read; each side pools its instances'."""

    def pooled(index: int, ids: Sequence[str]) -> list[float]:
        return [v for instance_id in ids for v in datapoints.get((index, instance_id), ())]

    samples = [
        (pooled(n, cohort["canary_ids"]), pooled(n, cohort["baseline_ids"])) for n in range(len(analysis.metrics))
    ]
    return canary.judge(analysis, samples)


def apply(
    asg_name: str, progress: Progress, judgement: CanaryJudgement, window: dict[str, str], approval: bool = False
) -> Progress:
    """The ledger after the judgement: the decision carries it (for the history and the approval's
    message); MARGINAL turns it into an approval; FAIL raises. ``approval``: approve_checkpoints,
    a human decides after a PASS too, and the message says so."""
    decision, cohort = _checkpoint(progress)
    if judgement.verdict == canary.FAIL:
        raise CanaryAnalysisFailedError(f"{judgement.failure_message(asg_name)} ({describe_cohorts(cohort)})")
    record = {**cohort, "window": window, "judgement": judgement.to_record()}
    if judgement.verdict == canary.MARGINAL:
        message = f"{judgement.summary(asg_name)}; {APPROVAL_PROMPT}"
        return progress.update(decision=replace(decision, action=Action.APPROVAL, message=message, canary=record))
    message = f"{judgement.summary(asg_name)}; {APPROVAL_PROMPT}" if approval else judgement.summary(asg_name)
    return progress.update(decision=replace(decision, message=message, canary=record))
