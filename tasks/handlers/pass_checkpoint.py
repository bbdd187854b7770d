"""PassCheckpoint: the bake at a checkpoint is over. A watched alarm in ALARM fails the ASG's release
here; with canary_analysis, the canary's metrics over the bake are judged against the baseline's
(FAIL: CanaryAnalysisFailedError; MARGINAL: AwaitApproval holds it); otherwise the ledger counts the
checkpoint as passed (AwaitApproval may still hold it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tasks import contracts, runtime
from tasks.domain import canary_checkpoint, notifications
from tasks.domain.canary import CanaryAnalysis
from tasks.domain.fleet import Progress, iso


@contracts.step("pass_checkpoint")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    asg, progress = event["asg_name"], Progress.from_record(event["progress"])
    runtime.check_alarms(asg, event.get("alarm_names", []), "the release stopped at its checkpoint")
    cohort = canary_checkpoint.cohort_of(progress)
    if event.get("canary_analysis") is not None and cohort is not None:
        progress = _judge(asg, progress, CanaryAnalysis.from_record(event["canary_analysis"]), cohort, event)
    passed = progress.update(checkpoints_passed=progress.checkpoints_passed + 1)
    runtime.logger.info(
        f"{asg} => checkpoint {passed.checkpoints_passed} passed after {passed.terminated_count} replaced",
        extra={"step": "PassCheckpoint", "asg_name": asg},
    )
    return passed.to_record()


def _judge(
    asg: str, progress: Progress, analysis: CanaryAnalysis, cohort: dict[str, Any], event: dict[str, Any]
) -> Progress:
    """The bake that just ended is the window; the judgement is announced before it acts."""
    end = runtime.now()
    start = end - timedelta(seconds=event["bake_seconds"])
    metrics = [(m.namespace, m.metric_name, m.statistic) for m in analysis.metrics]
    read = runtime.cloudwatch().instance_datapoints(
        metrics, [*cohort["canary_ids"], *cohort["baseline_ids"]], start, end, analysis.period_seconds
    )
    judgement = canary_checkpoint.judge(analysis, cohort, read)
    runtime.logger.info(judgement.summary(asg), extra={"step": "PassCheckpoint", "asg_name": asg})
    runtime.notify(event.get("event_bus_name"), notifications.canary_judged(asg, progress, cohort, judgement))
    window = {"start": iso(start), "end": iso(end)}
    return canary_checkpoint.apply(asg, progress, judgement, window, event.get("approve_checkpoints", False))
