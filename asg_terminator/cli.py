"""The operator's command line: ``asg-terminator --help``."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import click
from rich.console import Console

from asg_terminator import history
from asg_terminator.deploy import DEPLOY_SERVICES
from asg_terminator.progress import states_table
from tasks import contracts

console = Console()


@click.group()
def main() -> None:
    """Roll a new build across EC2 Auto Scaling groups by replacing instances."""


def _sfn(endpoint_url: str | None, region: str | None) -> Any:
    return boto3.client("stepfunctions", endpoint_url=endpoint_url, region_name=region)


def _sts(endpoint_url: str | None, region: str | None) -> Any:
    """Who the caller is: asked of ``endpoint_url`` when that is an AWS-compatible endpoint of its own
    (the local stack answers every service), of AWS's STS otherwise (``AWS_ENDPOINT_URL_STS`` applies)."""
    host = (urlsplit(endpoint_url).hostname or "") if endpoint_url else ""
    own = endpoint_url if host and not host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws")) else None
    return boto3.client("sts", endpoint_url=own, region_name=region)


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()


@main.group()
def local() -> None:
    """The local stack: an AWS-compatible endpoint where releases really run."""


def _release_defaults(text: str | None, path: Path | None) -> dict[str, Any]:
    from asg_terminator.localstack import check_release_defaults

    if text is not None and path is not None:
        raise click.UsageError("give one of --release-defaults or --release-defaults-file")
    raw = path.read_text(encoding="utf-8") if path is not None else text
    if raw is None:
        return {}
    try:
        return check_release_defaults(json.loads(raw))
    except json.JSONDecodeError as e:
        raise click.UsageError(f"release defaults: not JSON: {e}") from e
    except ValueError as e:
        raise click.UsageError(str(e)) from e


@local.command("up")
@click.option("--port", default=4566, show_default=True, help="Port on 127.0.0.1.")
@click.option(
    "--release-defaults",
    "defaults_json",
    default=None,
    help="Execution input fields for releases an upload or the schedule starts (the stack parameter "
    'ReleaseDefaults), e.g. \'{"version_url": "http://127.0.0.1:8080/{InstanceId}/version", "poll_seconds": 1}\'.',
)
@click.option(
    "--release-defaults-file",
    "defaults_file",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The same, from a file.",
)
@click.option(
    "--artifact-bucket", default="asg-terminator-artifacts", show_default=True, help="Uploads here start releases."
)
@click.option(
    "--debug",
    is_flag=True,
    help="Also log what moto, its server and the local functions log (moto's interpreter logs each failed "
    "state with its whole parse tree).",
)
def local_up(
    port: int, defaults_json: str | None, defaults_file: Path | None, artifact_bucket: str, debug: bool
) -> None:
    """Serve the endpoint until Ctrl-C: one line when an execution starts and when it ends."""
    import logging

    from asg_terminator.localstack import LocalStack

    defaults = _release_defaults(defaults_json, defaults_file)
    if debug:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("asg_terminator").setLevel(logging.DEBUG)  # a function's failure, with its traceback
    stack = LocalStack(
        port=port,
        release_defaults=defaults,
        artifact_bucket=artifact_bucket,
        say=_say,
        say_executions=True,
        debug=debug,
    )
    endpoint = stack.start()
    try:
        click.echo(f"endpoint:      {endpoint.url}")
        click.echo(f"region:        {endpoint.region}")
        click.echo(f"state machine: {endpoint.state_machine_arn}")
        click.echo(f"lease table: {stack.lease_table}")
        click.echo(f"artifact bucket: {stack.artifact_bucket} (an upload of <app>/<version>/<file> starts a release)")
        click.echo(f"release defaults: {json.dumps(defaults, sort_keys=True)}")
        click.echo("probes: loopback only (127.0.0.0/8, ::1); any other address is refused without connecting")
        click.echo("credentials:   any (e.g. AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing)")
        click.echo("Ctrl-C to stop.", err=True)
        sys.stdout.flush()
        _wait_for_interrupt()
    finally:
        stack.stop()


def _say(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


@main.command()
@click.option("--endpoint-url", required=True, help="The AWS-compatible endpoint holding the ASGs.")
@click.option("--region", default="us-east-1", show_default=True)
@click.option(
    "--version", "initial", default="1.0.266", show_default=True, help="Build of the instances already running."
)
@click.option("--bucket", default=None, help="Instances launched later boot the newest build uploaded here.")
@click.option("--new-version", default=None, help="Build of instances launched later (without --bucket).")
@click.option("--boot-seconds", default=3.0, show_default=True)
@click.option("--port", default=0, help="Port on 127.0.0.1 (default: any free one).")
@click.option(
    "--asg",
    "asgs",
    multiple=True,
    help="Create this ASG first (NAME, or NAME:COUNT for COUNT instances; 3 by default), tagged "
    "asg-terminator:app=APP, unless it exists (repeatable).",
)
@click.option(
    "--app", default="app", show_default=True, help="The app the created ASGs opt in for (uploads of APP/...)."
)
@click.option(
    "--metrics",
    type=click.Choice(["healthy", "degraded"]),
    default=None,
    help="Publish every serving instance's App/Latency and App/Errors (dimension InstanceId) to the endpoint's "
    "CloudWatch each second, for canary_analysis; builds other than --version are as fast (healthy) or 3x "
    "slower (degraded). Default: no metrics.",
)
def simulate(
    endpoint_url: str,
    region: str,
    initial: str,
    bucket: str | None,
    new_version: str | None,
    boot_seconds: float,
    port: int,
    asgs: tuple[str, ...],
    app: str,
    metrics: str | None,
) -> None:
    """Serve /version for every instance of the endpoint's ASGs, on loopback, until Ctrl-C."""
    from asg_terminator.demo import bucket_build_source
    from asg_terminator.fleet import create_asg
    from asg_terminator.simulator import FleetSimulator, MetricsPlan, asg_instance_lister
    from tasks.domain.events import APP_TAG

    autoscaling = boto3.client("autoscaling", endpoint_url=endpoint_url, region_name=region)
    ec2 = boto3.client("ec2", endpoint_url=endpoint_url, region_name=region)
    for wanted in asgs:
        name, _, count = wanted.partition(":")
        if not autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]:
            if count and not count.isdigit():
                raise click.BadParameter(f"{wanted!r}: NAME or NAME:COUNT", param_hint="--asg")
            create_asg(autoscaling, ec2, name, int(count or 3), tags={APP_TAG: app})
            click.echo(f"created ASG {name}: {int(count or 3)} instances on {initial}, tagged {APP_TAG}={app}")
    lister = asg_instance_lister(autoscaling)
    s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)
    source = bucket_build_source(s3, bucket) if bucket else None
    plan = MetricsPlan.for_new_build(initial, metrics) if metrics else None
    cloudwatch = boto3.client("cloudwatch", endpoint_url=endpoint_url, region_name=region) if plan else None
    simulator = FleetSimulator(
        lister,
        build=new_version or initial,
        boot_seconds=boot_seconds,
        build_source=source,
        port=port,
        metrics=plan,
        cloudwatch=cloudwatch,
    )
    simulator.adopt(lister(), initial)
    with simulator:
        click.echo(f"version_url: {simulator.url_template}")
        if plan:
            click.echo(
                f"metrics: {plan.namespace}/Latency, {plan.namespace}/Errors per InstanceId; new builds {metrics}"
            )
        pointing = json.dumps({"version_url": simulator.url_template, "poll_seconds": 1})
        click.echo(f"release defaults for local up: --release-defaults '{pointing}'")
        sys.stdout.flush()
        _wait_for_interrupt()


@main.command()
@click.option("--asgs", default="web,api", show_default=True, help="Comma-separated ASG names.")
@click.option("--instances", default=3, show_default=True, type=click.IntRange(1, 200))
@click.option("--boot-seconds", default=3.0, show_default=True, type=click.FloatRange(0, 120))
@click.option("--min-healthy", default=2, show_default=True, type=click.IntRange(0))
@click.option("--max-batch", default=None, type=click.IntRange(1), help="Default: no cap beyond the floor.")
@click.option(
    "--html",
    "html_path",
    default="artifacts/demo-history.html",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary only.")
@click.option(
    "--new-build",
    type=click.Choice(["healthy", "degraded"]),
    default="healthy",
    show_default=True,
    help="How 1.0.274's instances measure (App/Latency, App/Errors per InstanceId): as 1.0.266, or 3x slower.",
)
@click.option(
    "--canary-analysis",
    is_flag=True,
    help="Judge the canary at a checkpoint (canary_analysis): 1.0.274 passes and converges, then a 3x slower "
    "1.0.275 fails its canary and rolls back (exit 0 when both do).",
)
def demo(
    asgs: str,
    instances: int,
    boot_seconds: float,
    min_healthy: int,
    max_batch: int | None,
    html_path: Path,
    as_json: bool,
    new_build: str,
    canary_analysis: bool,
) -> None:
    """Release build 1.0.274 over simulated ASGs on 1.0.266, on the local stack."""
    from asg_terminator.demo import DemoOptions, run

    names = [n.strip() for n in asgs.split(",") if n.strip()]
    options = DemoOptions(
        names,
        instances,
        boot_seconds,
        min_healthy,
        max_batch,
        html_path,
        new_build=new_build,
        canary_analysis=canary_analysis,
    )
    sys.exit(run(options, Console(stderr=as_json), as_json=as_json))


RELEASE_INPUT = "validate_input.input"  # the execution input's schema: every field's default and rule


def _input_option(field: str, *names: str, none_means: str | None = None, **attrs: Any) -> Any:
    """An option for the execution-input field ``field``, named ``--field-name`` unless ``names``
    are given. It sends nothing unless given, so ValidateInput applies the schema's default; the help
    shows that default as the schema writes it (``none_means``: what a null default means), and a
    field the schema enumerates offers its choices."""
    spec = contracts.schema(RELEASE_INPUT)["properties"][field]
    kinds = {spec.get("type"), *(branch.get("type") for branch in spec.get("oneOf", []))} - {None, "null"}
    if "enum" in spec:
        attrs.setdefault("type", click.Choice(spec["enum"]))
    elif kinds == {"integer"}:
        attrs.setdefault("type", int)
    default = spec.get("default")
    shown = none_means if default is None else None if isinstance(default, bool | list) else default
    if shown is not None:
        attrs["help"] = f"{attrs.get('help', '')} Default: {shown}.".lstrip()
    if not attrs.get("multiple"):
        attrs["default"] = None
    return click.option(*(names or ("--" + field.replace("_", "-"),)), field, **attrs)


def _count_or_percent(_ctx: Any, _param: Any, value: Any) -> Any:
    return int(value) if isinstance(value, str) and value.isdigit() else value


def _checkpoints(_ctx: Any, _param: Any, value: tuple[str, ...]) -> list[int | str]:
    return [int(c) if c.isdigit() else c for c in value]


def _analysis(_ctx: Any, _param: Any, value: str | None) -> Any:
    return None if value is None else _json_option(value, "--canary-analysis")


INPUT_OPTIONS = [
    _input_option("target_version", none_means="the highest version read in each ASG"),
    _input_option("version_url"),
    _input_option("min_healthy"),
    _input_option("min_healthy_percent"),
    _input_option("max_batch", none_means="no cap beyond the floor"),
    _input_option(
        "max_surge",
        callback=_count_or_percent,
        help="Extra instances while releasing: a count or a percentage like 25%.",
    ),
    _input_option("poll_seconds"),
    _input_option("replace_unreadable", is_flag=True),
    _input_option(
        "allow_downgrade",
        is_flag=True,
        help="Release a --target-version older than what most instances serve (refused otherwise).",
    ),
    _input_option("standby_instances", help="Instances in Standby."),
    _input_option("protected_instances", help="Outdated instances protected from scale-in."),
    _input_option("event_bus_name", help="Send notifications to this EventBridge bus."),
    _input_option(
        "alarm_names",
        "--alarm-name",
        multiple=True,
        help="Stop the release when this CloudWatch alarm is in ALARM (repeatable).",
    ),
    _input_option(
        "checkpoints",
        "--checkpoint",
        multiple=True,
        callback=_checkpoints,
        help="Pause after this many instances (1) or this share ('50%') are replaced (repeatable).",
    ),
    _input_option("bake_seconds", help="How long each checkpoint waits."),
    _input_option(
        "approve_checkpoints", is_flag=True, help="At each checkpoint, wait for `asg-terminator approve` (or `reject`)."
    ),
    _input_option(
        "canary_analysis",
        callback=_analysis,
        help='Judge the canary at each checkpoint: canary_analysis as JSON, e.g. \'{"metrics": [{"namespace": '
        '"App", "metric_name": "Latency", "fails_when": "increase", "tolerance_percent": 10}]}\', or @FILE.',
    ),
    _input_option(
        "pin_parameter",
        help="SSM parameter your instances read their build from, e.g. /asg-terminator/{asg_name}/build.",
    ),
    _input_option(
        "rollback_on_failure",
        is_flag=True,
        help="A failed ASG converges back onto its previous version (needs --pin-parameter).",
    ),
]


def _fields(options: list[Any]) -> tuple[str, ...]:
    """The execution-input fields these options set: each option's parameter is named after its field."""
    probe = click.Command("probe")
    for option in options:
        option(probe)
    return tuple(str(param.name) for param in probe.params)


INPUT_FIELDS = _fields(INPUT_OPTIONS)


def _release_options(command: Any) -> Any:
    """The options `release` and `plan` share: the execution input and where to start it."""
    options = [
        click.option("--asg", "asgs", multiple=True, required=True, help="An ASG to release (repeatable)."),
        *INPUT_OPTIONS,
        click.option("--stack", default=None, help="Find the state machine in this deployed stack."),
        click.option("--state-machine-arn", default=None),
        click.option("--endpoint-url", default=None, help="Any Step Functions endpoint (default: AWS)."),
        click.option("--region", default=None),
        click.option("--name", default=None, help="Execution name (default: generated)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _start(given: dict[str, Any], dry_run: bool) -> tuple[Any, str]:
    """Validate the execution input here, then start it; returns (sfn client, execution ARN)."""
    from tasks.domain.execution_input import settings_from_input
    from tasks.errors import InvalidExecutionInputError

    chosen = {k: list(v) if isinstance(v, tuple) else v for k in INPUT_FIELDS if (v := given[k]) not in (None, (), [])}
    execution_input = {"asg_names": list(given["asgs"]), **chosen}
    if dry_run:
        execution_input["dry_run"] = True
    try:
        contracts.check(RELEASE_INPUT, execution_input, InvalidExecutionInputError, "execution input")
        settings_from_input(execution_input, contracts.defaults(RELEASE_INPUT))
    except InvalidExecutionInputError as e:
        raise click.UsageError(str(e)) from e
    machine = given["state_machine_arn"]
    if (given["stack"] is None) == (machine is None):
        raise click.UsageError("give one of --stack or --state-machine-arn")
    if given["stack"] is not None:
        from asg_terminator.deploy import state_machine_arn

        cloudformation = boto3.client("cloudformation", endpoint_url=given["endpoint_url"], region_name=given["region"])
        machine = state_machine_arn(cloudformation, given["stack"])
    sfn = _sfn(given["endpoint_url"], given["region"])
    name = given["name"] or _execution_name(given["asgs"])
    started = sfn.start_execution(stateMachineArn=machine, input=json.dumps(execution_input), name=name)
    click.echo(f"started {started['executionArn']}")
    return sfn, str(started["executionArn"])


@main.command()
@_release_options
@click.option("--follow", is_flag=True, help="Show live progress until the release ends; exit code from its outcome.")
def release(follow: bool, **given: Any) -> None:
    """Validate the input here, then start a release (the console's Start execution)."""
    sfn, arn = _start(given, dry_run=False)
    if not follow:
        return
    from asg_terminator.progress import follow as follow_execution
    from asg_terminator.progress import summary_table

    view = follow_execution(sfn, arn, list(given["asgs"]), console=console)
    console.print()
    console.print(summary_table(view))
    _print_canary(view)
    if view.status != "SUCCEEDED":
        console.print(f"[red]{view.error}[/red]: {view.cause}")
        sys.exit(1)


@main.command()
@_release_options
def plan(**given: Any) -> None:
    """A dry run: what a release would do to each instance now, terminating nothing."""
    from asg_terminator.progress import plan_tables, wait_for

    sfn, arn = _start(given, dry_run=True)
    view = wait_for(sfn, arn)
    for table in plan_tables(view):
        console.print(table)
    _print_canary_now(view, given)
    if view.status != "SUCCEEDED":
        console.print(f"[red]{view.error}[/red]: {view.cause}")
        sys.exit(1)


def _json_option(text: str, option: str) -> Any:
    """JSON text, or @FILE for a file's."""
    raw = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise click.BadParameter(f"not JSON: {e}", param_hint=option) from e


def _print_canary(view: history.ExecutionView) -> None:
    """Each canary judgement (canary_analysis), when the release made one."""
    from asg_terminator import canary_view

    judged = canary_view.table(view)
    if judged is not None:
        console.print(judged)
    elif history.json_object(view.input).get("canary_analysis"):
        console.print("canary analysis: no checkpoint judged")


def _print_canary_now(view: history.ExecutionView, given: dict[str, Any]) -> None:
    """plan with canary_analysis: a dry run reaches no checkpoint, so the fleet is judged as it stands
    (the instances already on the target against those on the version being replaced)."""
    from datetime import UTC, datetime

    from asg_terminator import canary_view
    from tasks.adapters.cloudwatch import CloudWatch

    if not history.json_object(view.input).get("canary_analysis"):
        return
    client = boto3.client("cloudwatch", endpoint_url=given["endpoint_url"], region_name=given["region"])
    found, unjudged = canary_view.judged_now(view, CloudWatch(client), datetime.now(UTC))
    now = "canary analysis as the fleet stands now (over the last bake_seconds)"
    judged = canary_view.table(view, found, heading=now)
    if judged is not None:
        console.print(judged)
    for line in unjudged:
        console.print(line)


def _execution_name(asgs: tuple[str, ...]) -> str:
    """Readable in the console's list: the first ASG, the time, and a few random characters."""
    import re
    import time
    import uuid

    first = re.sub(r"[^A-Za-z0-9_-]", "-", asgs[0])[:40]
    return f"{first}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


@main.command("deploy")
@click.option("--stack", required=True)
@click.option("--s3-bucket", required=True, help="Where the code package and the definition are uploaded.")
@click.option("--parameter", "parameters", multiple=True, help="K=V template parameter (repeatable).")
@click.option("--endpoint-url", default=None, help="CloudFormation/S3 endpoint (default: AWS).")
@click.option("--region", default=None)
def deploy_command(
    stack: str, s3_bucket: str, parameters: tuple[str, ...], endpoint_url: str | None, region: str | None
) -> None:
    """Package tasks/ and deploy infra/template.yaml (CloudFormation through boto3)."""
    import tempfile

    from asg_terminator.deploy import build_dependencies, deploy

    values = {}
    for parameter in parameters:
        key, sep, value = parameter.partition("=")
        if not sep:
            raise click.UsageError(f"--parameter {parameter!r}: expected K=V")
        values[key] = value
    make: Any = boto3.client  # any service by name: the stubs type only literal names
    clients = {name: make(name, endpoint_url=endpoint_url, region_name=region) for name in DEPLOY_SERVICES}
    with tempfile.TemporaryDirectory() as scratch:
        try:
            dependencies = build_dependencies(Path(scratch), say=click.echo)
        except FileNotFoundError as e:  # an installed wheel: the lock is the checkout's
            raise click.ClickException(str(e)) from None
        status = deploy(stack, s3_bucket, values, clients, dependencies, say=click.echo)
    click.echo(f"{stack}: {status}")


def _answer(
    approving: bool, execution_arn: str, asg: str | None, text: str, endpoint_url: str | None, region: str | None
) -> None:
    from asg_terminator import approval

    sfn = _sfn(endpoint_url, region)
    try:
        who = approval.caller(_sts(endpoint_url, region))
        (found,) = approval.waiting_in(sfn, execution_arn, asg)
        if approving:
            approval.approve(sfn, found, text, who)
        else:
            approval.reject(sfn, found, text, who)
    except approval.ApprovalError as e:
        raise click.ClickException(str(e)) from None
    if approving:
        click.echo(f"{found.asg_name}: approved; the release goes on ({found.message})")
    else:
        then = "; it rolls back first (rollback_on_failure)" if found.rolls_back else ""
        click.echo(f"{found.asg_name}: rejected; its release fails with {approval.REJECTED}{then}")


@main.command()
@click.argument("execution_arn")
@click.option("--asg", default=None, help="The ASG whose checkpoint to approve (needed when several wait).")
@click.option("--note", default="", help="Said with the approval, in the execution's history.")
@click.option("--endpoint-url", default=None, help="Any Step Functions endpoint (default: AWS).")
@click.option("--region", default=None)
def approve(execution_arn: str, asg: str | None, note: str, endpoint_url: str | None, region: str | None) -> None:
    """Let a release that waits at a checkpoint (approve_checkpoints) go on.

    EXECUTION_ARN is any execution of the release (a chain's first is fine).
    """
    _answer(True, execution_arn, asg, note, endpoint_url, region)


@main.command()
@click.argument("execution_arn")
@click.option("--asg", default=None, help="The ASG whose checkpoint to reject (needed when several wait).")
@click.option("--reason", required=True, help="Why: the ASG's release fails with it.")
@click.option("--endpoint-url", default=None, help="Any Step Functions endpoint (default: AWS).")
@click.option("--region", default=None)
def reject(execution_arn: str, asg: str | None, reason: str, endpoint_url: str | None, region: str | None) -> None:
    """Stop a release that waits at a checkpoint: that ASG's release fails (ReleaseRejectedError).
    Nothing more of it is terminated, and instances already replaced stay as they are, unless the
    release asked for rollback_on_failure: then the ASG converges back onto its previous version."""
    _answer(False, execution_arn, asg, reason, endpoint_url, region)


@main.command("history")
@click.argument("execution_arn")
@click.option("--endpoint-url", default=None, help="Any Step Functions endpoint (default: AWS).")
@click.option("--region", default=None)
@click.option(
    "--html",
    "html_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the visual history here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the state runs as JSON.")
def history_command(
    execution_arn: str, endpoint_url: str | None, region: str | None, html_path: Path | None, as_json: bool
) -> None:
    """Show an execution's states (and write its visual history page).

    A release that continued as new executions (history limit) is shown whole: every execution of
    its chain, first to last, from any one of them.
    """
    views = history.chain(_sfn(endpoint_url, region), execution_arn)
    if as_json:
        runs = [
            {
                "execution": number,
                "name": r.name,
                "type": r.type,
                "asg_name": r.asg_name,
                "status": r.status,
                "start": (r.entered - view.started).total_seconds(),
                "duration": r.duration(),
                "error": r.error,
            }
            for number, view in enumerate(views, 1)
            for r in view.runs
        ]
        executions = [{"arn": v.arn, "name": v.name, "status": v.status, "events": len(v.events)} for v in views]
        click.echo(json.dumps({"status": views[-1].status, "executions": executions, "runs": runs}, indent=2))
    else:
        for number, view in enumerate(views, 1):
            if len(views) > 1:
                console.print(f"[bold]execution {number} of {len(views)}[/bold] {view.arn}")
            console.print(states_table(view))
            _print_canary(view)
    if html_path:
        from asg_terminator import history_html  # its graph layout (grandalf) loads only for a page

        html_path.parent.mkdir(parents=True, exist_ok=True)
        pages = history_html.chain_pages(views, html_path.name)
        for view, page in zip(views, pages, strict=True):
            (html_path.parent / page).write_text(history_html.render(view, views, pages), encoding="utf-8")
            console.print(f"wrote {html_path.parent / page}")


if __name__ == "__main__":
    main()
