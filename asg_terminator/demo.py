"""``asg-terminator demo``: a whole release on the local stack with a simulated fleet."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asg_terminator import history, history_html
from asg_terminator.fleet import create_asg
from asg_terminator.localstack import ARTIFACT_BUCKET, LocalStack
from asg_terminator.progress import FleetCounts, follow, summary_table
from asg_terminator.simulator import FleetSimulator, asg_instance_lister
from tasks.domain import artifacts
from tasks.domain.events import APP_TAG
from tasks.domain.report import lambda_error_message

if TYPE_CHECKING:
    from rich.console import Console

OLD_BUILD, NEW_BUILD = "1.0.266", "1.0.274"
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


def run(options: DemoOptions, console: Console, as_json: bool = False) -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    defaults = {
        "poll_seconds": 1,
        "probe_timeout_seconds": 1,
        "min_healthy": options.min_healthy,
        "max_batch": options.max_batch,
        "replacement_timeout_seconds": max(60, int(options.boot_seconds * 10)),
    }
    stack = LocalStack(port=options.port, release_defaults=defaults, say=lambda line: say(console, as_json, line))
    with stack as endpoint:
        autoscaling, ec2, s3, sfn = (endpoint.client(s) for s in ("autoscaling", "ec2", "s3", "stepfunctions"))
        simulator = FleetSimulator(
            asg_instance_lister(autoscaling, options.asgs),
            build=OLD_BUILD,
            boot_seconds=options.boot_seconds,
            build_source=bucket_build_source(s3, BUCKET),
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
            key = f"{APP}/{NEW_BUILD}/{APP}.zip"
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"build " + NEW_BUILD.encode())
            say(console, as_json, f"uploaded s3://{BUCKET}/{key}")
            started = _first_start(stack)
            if not started.get("started"):
                raise SystemExit(f"StartRelease did not start a release: {started}")
            arn = started["execution_arn"]
            say(console, as_json, f"release {started['execution_name']} started")

            def counts(view: history.ExecutionView, name: str) -> FleetCounts | None:
                group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
                reads = [simulator.reads(i["InstanceId"]) for i in group["Instances"]]
                new = sum(1 for r in reads if r == NEW_BUILD)
                old = sum(1 for r in reads if r is not None and r != NEW_BUILD)
                return FleetCounts(group["DesiredCapacity"], old, len(reads) - new - old, new)

            view = follow(sfn, arn, options.asgs, counts=counts, console=console, live=not as_json)
        options.html.parent.mkdir(parents=True, exist_ok=True)
        options.html.write_text(history_html.render(view), encoding="utf-8")
    if as_json:
        print(json.dumps(_summary(view, options.html), indent=2))
    else:
        console.print()
        console.print(summary_table(view))
        if view.status != "SUCCEEDED":
            console.print(f"[red]{view.error}[/red]: {lambda_error_message(view.cause or '')}")
        console.print(f"execution history: {options.html}  (open it in a browser)")
    return 0 if view.status == "SUCCEEDED" else 1


def _first_start(stack: LocalStack, timeout: float = 30) -> dict[str, Any]:
    """What StartRelease answered to the upload, once the local stack has delivered its event."""
    deadline = time.monotonic() + timeout
    while not stack.started:
        if time.monotonic() > deadline:
            raise SystemExit(f"the upload reached no StartRelease within {timeout:g} s")
        time.sleep(0.05)
    return stack.started[0]


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
    }
