"""Issue 16 on the real ASL: automated canary analysis at a checkpoint. The simulated fleet publishes
each serving instance's Latency and Errors to moto's CloudWatch (dimension InstanceId); after the bake,
PassCheckpoint judges the canary's datapoints against the baseline's. Bakes are short (7 s, period 1,
min_samples 5): moto's Wait states sleep for real."""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

from click.testing import CliRunner

from asg_terminator import canary_view, history
from asg_terminator.cli import main
from asg_terminator.simulator import MetricsPlan
from tests.workflow.harness import cli, in_background, wait_for_approvals
from tests.workflow.test_rollback import pinned, rolling_back

if TYPE_CHECKING:
    from tests.workflow.conftest import World
    from tests.workflow.harness import Execution

OLD, NEW = "1.0.266", "1.0.274"
LATENCY = {"namespace": "App", "metric_name": "Latency", "fails_when": "increase", "tolerance_percent": 10}
ERRORS = {"namespace": "App", "metric_name": "Errors", "statistic": "Sum", "fails_when": "increase"}


def analysed(*metrics: dict[str, Any], **fields: Any) -> dict[str, Any]:
    analysis = {"metrics": list(metrics), "period_seconds": 1, "min_samples": 5, "pass_score": 95, "marginal_score": 50}
    return {
        "asg_names": ["live_asg_web"],
        "target_version": NEW,
        "min_healthy": 1,
        "checkpoints": [1],
        "bake_seconds": 7,
        "canary_analysis": analysis,
        **fields,
    }


def judgements(execution: Execution) -> list[dict[str, Any]]:
    return [o["progress"]["decision"]["canary"] for o in execution.task_outputs("PassCheckpoint")]


def test_a_healthy_build_passes_its_canary_and_converges(world: World) -> None:
    world.fleet(build=NEW, metrics=MetricsPlan.for_new_build(OLD, "healthy"))
    original = world.asg("live_asg_web", 3, OLD)

    execution, watch = world.release(analysed({**LATENCY, "critical": True}, ERRORS))

    assert execution.status == "SUCCEEDED", execution.cause
    (judged,) = judgements(execution)
    assert judged["judgement"]["verdict"] == "PASS", judged
    (canary,) = judged["canary_ids"]  # the one replacement of the first batch
    assert canary not in original
    assert sorted(judged["baseline_ids"]) == sorted(set(original) - set(execution.terminated()[:1]))
    latency = judged["judgement"]["results"][0]
    assert latency["canary_samples"] >= 5 and latency["baseline_samples"] >= 10
    assert execution.batch_sizes()[0] == 1
    assert "AwaitApproval" not in execution.states_entered()
    rows = canary_view.rows(history.load(world.sfn, execution.arn))
    assert [(r.metric, r.verdict) for r in rows] == [("App/Latency (Average)", "PASS"), ("App/Errors (Sum)", "PASS")]
    assert world.versions("live_asg_web") == [NEW] * 3
    assert watch.floor_breaches("live_asg_web", min_healthy=1) == []


def test_a_3x_latency_build_fails_at_the_canary_and_rolls_back(world: World) -> None:
    world.fleet(build=NEW, metrics=MetricsPlan.for_new_build(OLD, "degraded"), build_source=pinned("live_asg_web"))
    world.asg("live_asg_web", 3, OLD)

    execution, watch = world.release(rolling_back(**analysed({**LATENCY, "critical": True}, ERRORS)))

    assert execution.status == "FAILED"
    message = execution.cause_message()
    assert "live_asg_web ROLLED_BACK to 1.0.266 after CanaryAnalysisFailedError" in message
    assert "App/Latency (Average): FAIL: canary median" in message
    entered = execution.states_entered()
    # Exactly the canary was replaced before the verdict: one Terminate of one instance, then the rollback.
    before = entered[: entered.index("RollBack")]
    assert before.count("Terminate") == 1 and execution.batch_sizes()[0] == 1
    assert before.count("PassCheckpoint") == 1
    assert world.versions("live_asg_web") == [OLD] * 3
    assert watch.floor_breaches("live_asg_web", min_healthy=1) == []
    # The table (`history`, `release --follow`, the page) reads the failed metric back from the error.
    # Every metric, those that passed too: the error names them all.
    row, errors = canary_view.rows(history.load(world.sfn, execution.arn))
    assert (row.metric, row.verdict, row.judged) == ("App/Latency (Average)", "FAIL", "FAIL (score 0)")
    assert float(row.canary_median) / float(row.baseline_median) > 2
    assert (errors.metric, errors.verdict, errors.canary_median, errors.baseline_median) == (
        "App/Errors (Sum)",
        "PASS",
        "0",
        "0",
    )
    assert "canary analysis" in cli(world, "history", execution.arn).output


def test_a_marginal_build_waits_for_approval(world: World) -> None:
    # Latency as the baseline's, but every datapoint an error: one metric of two fails, score 50.
    world.fleet(build=NEW, metrics=MetricsPlan(error_rates={NEW: 1.0}))
    world.asg("live_asg_web", 2, OLD)
    asked: list[str] = []

    def approve(arn: str) -> None:
        (waiting,) = wait_for_approvals(world, arn, 1)
        asked.append(waiting.message)
        assert cli(world, "approve", arn, "--note", "errors are a known log change").exit_code == 0

    with in_background(world, approve):
        execution, _ = world.release(analysed(LATENCY, ERRORS))  # approve_checkpoints is not set

    assert execution.status == "SUCCEEDED", execution.cause
    assert "AwaitApproval" in execution.states_entered()
    (judged,) = judgements(execution)
    assert (judged["judgement"]["verdict"], judged["judgement"]["score"]) == ("MARGINAL", 50)
    assert asked[0].startswith("live_asg_web => canary score 50: MARGINAL")
    assert world.versions("live_asg_web") == [NEW] * 2


def test_missing_data_fails_a_critical_metric(world: World) -> None:
    world.fleet(build=NEW, metrics=MetricsPlan.for_new_build(OLD, "healthy"))
    world.asg("live_asg_web", 3, OLD)
    unpublished = {"namespace": "App", "metric_name": "QueueDepth", "fails_when": "increase", "critical": True}

    execution, _ = world.release(analysed(LATENCY, unpublished))

    assert execution.status == "FAILED"
    message = execution.cause_message()
    assert "live_asg_web FAILED CanaryAnalysisFailedError after 1 terminated in 1 batches" in message
    assert "App/QueueDepth (Average): NODATA: 0 canary and 0 baseline datapoints" in message
    assert execution.batch_sizes() == [1]  # nothing beyond the canary
    assert sorted(world.versions("live_asg_web")) == sorted([OLD, OLD, NEW])


def test_with_approve_checkpoints_a_passed_canary_asks_a_human_with_its_judgement(world: World) -> None:
    world.fleet(build=NEW, metrics=MetricsPlan.for_new_build(OLD, "healthy"))
    world.asg("live_asg_web", 2, OLD)
    asked: list[str] = []

    def approve(arn: str) -> None:
        (waiting,) = wait_for_approvals(world, arn, 1)
        asked.append(waiting.message)
        assert cli(world, "approve", arn).exit_code == 0

    with in_background(world, approve):
        execution, _ = world.release(analysed(LATENCY, approve_checkpoints=True))

    assert execution.status == "SUCCEEDED", execution.cause
    (judged,) = judgements(execution)
    assert judged["judgement"]["verdict"] == "PASS"
    assert asked[0].startswith("live_asg_web => canary score 100: PASS")
    assert asked[0].endswith("; waiting for approval (asg-terminator approve|reject)")


def test_plan_judges_the_fleet_as_it_stands(world: World) -> None:
    # Half the fleet already serves a 3x slower target (a release stopped halfway, say): plan judges it now.
    world.fleet(build=NEW, metrics=MetricsPlan.for_new_build(OLD, "degraded"))
    ids = world.asg("live_asg_web", 4, OLD)
    assert world.simulator is not None
    world.simulator.adopt(ids[:2], NEW)
    world.asg("live_asg_api", 2, OLD)  # nothing on the target yet: nothing to judge
    time.sleep(4)  # 2 instances a side publish each second: min_samples 5 within the window
    analysis = json.dumps({"metrics": [LATENCY], "period_seconds": 1, "min_samples": 5})
    args = ["plan", "--asg", "live_asg_web", "--asg", "live_asg_api", "--target-version", NEW]
    args += ["--version-url", world.simulator.url_template, "--min-healthy", "1", "--checkpoint", "1"]
    args += ["--bake-seconds", "7", "--canary-analysis", analysis, "--state-machine-arn", world.machine_arn]

    shown = CliRunner().invoke(main, [*args, "--region", "us-east-1"])  # AWS's endpoints: moto's, in process

    assert shown.exit_code == 0, shown.output
    assert "canary analysis as the fleet stands now" in shown.output
    judged = shown.output.split("canary analysis as the fleet stands now")[1]
    assert re.search(r"\+[12]\d\d %", judged) and "FAIL" in judged and "PASS" not in judged, shown.output
    assert "live_asg_api: canary not judged now: no instance serves the target" in " ".join(shown.output.split())
    assert world.versions("live_asg_web").count(NEW) == 2  # a dry run: nothing replaced
