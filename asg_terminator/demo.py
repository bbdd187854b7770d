"""``asg-terminator demo``: a whole release on the local stack with a simulated fleet."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asg_terminator import canary_view, history, history_html
from asg_terminator.fleet import create_asg
from asg_terminator.localstack import ARTIFACT_BUCKET, LocalStack
from asg_terminator.progress import FleetCounts, follow, summary_table
from asg_terminator.simulator import (
    DEGRADED_BUILD,
    DEGRADED_LATENCY,
    HEALTHY_BUILD,
    FleetSimulator,
    MetricsPlan,
    asg_instance_lister,
)
from tasks.domain import artifacts
from tasks.domain.events import APP_TAG
from tasks.domain.report import lambda_error_message

if TYPE_CHECKING:
    from rich.console import Console

OLD_BUILD, NEW_BUILD = "1.0.266", "1.0.274"
SLOW_BUILD = "1.0.275"  # --canary-analysis: the second release, 3x slower, fails its canary and rolls back
PIN = "/asg-terminator/{asg_name}/build"
# --canary-analysis: the canary is the first instance; a short bake at 1 s datapoints.
CANARY_INPUT: dict[str, Any] = {
    "checkpoints": [1],
    "bake_seconds": 8,
    "rollback_on_failure": True,
    "pin_parameter": PIN,
    "canary_analysis": {
        "metrics": [
            {
                "namespace": "App",
                "metric_name": "Latency",
                "fails_when": "increase",
                "tolerance_percent": 10,
                "critical": True,
            },
            {"namespace": "App", "metric_name": "Errors", "statistic": "Sum", "fails_when": "increase"},
        ],
        "period_seconds": 1,
        "min_samples": 5,
        "pass_score": 95,
        "marginal_score": 50,
    },
}
BUCKET = ARTIFACT_BUCKET
APP = "app"


@dataclass(frozen=True)
class DemoOptions:
    asgs: list[str]
    instances: int = 3
    boot_seconds: float = 3.0
    min_healthy: int = 2
    max_batch: int | None = None
    html: Path = Path("artifacts/demo-history.html")
    port: int = 0
    new_build: str = HEALTHY_BUILD  # or DEGRADED_BUILD: 1.0.274's instances answer 3x slower (App/Latency)
    canary_analysis: bool = False  # release 1.0.274 with canary analysis, then a degraded 1.0.275 that rolls back


def bucket_build_source(s3: Any, bucket: str) -> Any:
    """The newest build uploaded to the bucket: what a freshly launched instance downloads."""

    def newest() -> str | None:
        keys = [
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])
        ]
        return artifacts.newest(keys)

    return newest


def pinned_build(autoscaling: Any, ssm: Any) -> Any:
    """What an instance's boot script does: the build its ASG's pin names, if there is one."""

    def build(instance_id: str) -> str | None:
        found = autoscaling.describe_auto_scaling_instances(InstanceIds=[instance_id])["AutoScalingInstances"]
        if not found:
            return None
        try:
            value = ssm.get_parameter(Name=PIN.format(asg_name=found[0]["AutoScalingGroupName"]))["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            return None
        return str(value)

    return build


def metrics_plan(options: DemoOptions) -> MetricsPlan:
    """Every serving instance's App/Latency and App/Errors: 1.0.274 as --new-build says, 1.0.275 3x slower."""
    factors = {SLOW_BUILD: DEGRADED_LATENCY}
    if options.new_build == DEGRADED_BUILD:
        factors[NEW_BUILD] = DEGRADED_LATENCY
    return MetricsPlan(latency_factors=factors)


def run(options: DemoOptions, console: Console, as_json: bool = False) -> int:
    defaults = {
        "poll_seconds": 1,
        "probe_timeout_seconds": 1,
        "min_healthy": options.min_healthy,
        "max_batch": options.max_batch,
        "replacement_timeout_seconds": max(60, int(options.boot_seconds * 10)),
        **(CANARY_INPUT if options.canary_analysis else {}),
    }
    stack = LocalStack(port=options.port, release_defaults=defaults, say=lambda line: say(console, as_json, line))
    with stack as endpoint:
        autoscaling, ec2, s3, sfn = (endpoint.client(s) for s in ("autoscaling", "ec2", "s3", "stepfunctions"))
        cloudwatch, ssm = endpoint.client("cloudwatch"), endpoint.client("ssm")
        simulator = FleetSimulator(
            asg_instance_lister(autoscaling, options.asgs),
            build=OLD_BUILD,
            boot_seconds=options.boot_seconds,
            build_source=bucket_build_source(s3, BUCKET),
            metrics=metrics_plan(options),
            cloudwatch=cloudwatch,
            instance_build=pinned_build(autoscaling, ssm) if options.canary_analysis else None,
        )
        # Releases started by an upload read the version URL from the deployment's defaults.
        stack.release_defaults["version_url"] = simulator.url_template
        stack.start_functions_env()
        with simulator:
            for name in options.asgs:
                ids = create_asg(autoscaling, ec2, name, options.instances, tags={APP_TAG: APP})
                simulator.adopt(ids, OLD_BUILD)
            say(
                console,
                as_json,
                f"local stack {endpoint.url}: ASGs {', '.join(options.asgs)} "
                f"({options.instances} instances each, tagged {APP_TAG}={APP}) on {OLD_BUILD}",
            )
            builds = [NEW_BUILD, SLOW_BUILD] if options.canary_analysis else [NEW_BUILD]
            views = []
            for number, build in enumerate(builds):
                key = f"{APP}/{build}/{APP}.zip"
                s3.put_object(Bucket=BUCKET, Key=key, Body=b"build " + build.encode())
                say(console, as_json, f"uploaded s3://{BUCKET}/{key}")
                started = _first_start(stack, number)
                if not started.get("started"):
                    raise SystemExit(f"StartRelease did not start a release: {started}")
                arn = started["execution_arn"]
                say(console, as_json, f"release {started['execution_name']} started")

                def counts(view: history.ExecutionView, name: str, build: str = build) -> FleetCounts | None:
                    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
                    group = groups["AutoScalingGroups"][0]
                    reads = [simulator.reads(i["InstanceId"]) for i in group["Instances"]]
                    new = sum(1 for r in reads if r == build)
                    old = sum(1 for r in reads if r is not None and r != build)
                    return FleetCounts(group["DesiredCapacity"], old, len(reads) - new - old, new)

                views.append(follow(sfn, arn, options.asgs, counts=counts, console=console, live=not as_json))
        pages = _html_pages(options.html, len(views))
        options.html.parent.mkdir(parents=True, exist_ok=True)
        for view, page in zip(views, pages, strict=True):
            page.write_text(history_html.render(view), encoding="utf-8")
    if as_json:
        summaries = [_summary(view, page) for view, page in zip(views, pages, strict=True)]
        print(json.dumps(summaries[0] if len(summaries) == 1 else {"releases": summaries}, indent=2))
    else:
        for view, page in zip(views, pages, strict=True):
            console.print()
            console.print(summary_table(view))
            judged = canary_view.table(view)
            if judged is not None:
                console.print(judged)
            if view.status != "SUCCEEDED":
                console.print(f"[red]{view.error}[/red]: {lambda_error_message(view.cause or '')}")
            console.print(f"execution history: {page}  (open it in a browser)")
    return 0 if _as_expected(views) else 1


def _html_pages(first: Path, count: int) -> list[Path]:
    """``demo-history.html``, then ``demo-history-2.html`` for the second release."""
    return [first] + [first.with_name(f"{first.stem}-{n}{first.suffix}") for n in range(2, count + 1)]


def _as_expected(views: list[history.ExecutionView]) -> bool:
    """The first release converges; with --canary-analysis the second fails its canary and rolls back."""
    if views[0].status != "SUCCEEDED":
        return False
    return all(
        view.status == "FAILED"
        and "ROLLED_BACK" in (view.cause or "")
        and "CanaryAnalysisFailedError" in (view.cause or "")
        for view in views[1:]
    )


def _first_start(stack: LocalStack, number: int = 0, timeout: float = 30) -> dict[str, Any]:
    """What StartRelease answered to the ``number``-th upload, once the local stack has delivered its event."""
    deadline = time.monotonic() + timeout
    while len(stack.started) <= number:
        if time.monotonic() > deadline:
            raise SystemExit(f"the upload reached no StartRelease within {timeout:g} s")
        time.sleep(0.05)
    return stack.started[number]


def say(console: Console, quiet: bool, text: str) -> None:
    if not quiet:
        console.print(text)


def _summary(view: history.ExecutionView, html: Path) -> dict[str, Any]:
    output = json.loads(view.output) if view.output else None
    return {
        "execution_arn": view.arn,
        "status": view.status,
        "error": view.error,
        "cause": lambda_error_message(view.cause or "") if view.error else None,
        "output": output,
        "history_html": str(html),
        "duration_seconds": round((view.end - view.started).total_seconds(), 3),
        "state_transitions": len(view.runs),
        "asg_seconds": {name: round(seconds, 3) for name, seconds in view.asg_spans().items()},
        "seconds_in_states": {
            name: {state: round(seconds, 3) for state, seconds in spent.items()}
            for name, spent in view.seconds_in_states().items()
        },
        "canary": canary_view.as_records(view),
    }
