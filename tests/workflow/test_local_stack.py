"""`asg-terminator local up`, `simulate` and `demo` as a user runs them: separate processes on loopback."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from asg_terminator.fleet import create_asg
from asg_terminator.paths import ROOT
from tests.workflow.harness import run_execution, wait_for_execution

if TYPE_CHECKING:
    from collections.abc import Iterator

CLI = [sys.executable, "-m", "asg_terminator.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    return env


class Program:
    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [*CLI, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(),
            cwd=ROOT,
            start_new_session=True,
        )
        self.lines: list[str] = []

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line and self.process.poll() is not None:
                break
            self.lines.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        raise AssertionError(f"{pattern!r} not printed; got: {''.join(self.lines)}")

    def interrupt(self, timeout: float = 20) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=timeout)


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def local_up() -> Iterator[tuple[Program, str]]:
    port = _free_port()
    program = Program("local", "up", "--port", str(port))
    try:
        endpoint = program.wait_for(r"endpoint:\s+(http://127\.0\.0\.1:\d+)").group(1)
        yield program, endpoint
    finally:
        if program.process.poll() is None:
            program.process.kill()


def test_local_up_answers_sdks_and_a_release_against_an_externally_simulated_fleet_succeeds(
    local_up: tuple[Program, str],
) -> None:
    program, endpoint = local_up
    clients = {
        s: boto3.client(
            s,
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for s in ("stepfunctions", "autoscaling", "ec2")
    }
    machines = clients["stepfunctions"].list_state_machines()["stateMachines"]
    assert [m["name"] for m in machines] == ["asg-terminator-release"]

    create_asg(clients["autoscaling"], clients["ec2"], "live_asg_web", 2)
    create_asg(clients["autoscaling"], clients["ec2"], "live_asg_api", 2)
    planned = create_asg(clients["autoscaling"], clients["ec2"], "live_asg_plan", 3)
    simulator = Program(
        "simulate",
        "--endpoint-url",
        endpoint,
        "--version",
        "1.0.266",
        "--new-version",
        "1.0.274",
        "--boot-seconds",
        "0.5",
    )
    try:
        template = simulator.wait_for(r"version_url: (\S+)").group(1)
        assert template.startswith("http://127.0.0.1:")
        execution = run_execution(
            clients["stepfunctions"],
            machines[0]["stateMachineArn"],
            {"asg_names": ["live_asg_web"], "target_version": "1.0.274", "version_url": template, "poll_seconds": 1},
            timeout=90,
        )
        assert execution.status == "SUCCEEDED", execution.cause
        assert execution.output["asgs"][0]["versions_after"] == {"1.0.274": 2}

        shown = subprocess.run(
            [*CLI, "history", execution.arn, "--endpoint-url", endpoint, "--region", "us-east-1", "--json"],
            capture_output=True,
            text=True,
            env=_env(),
            cwd=ROOT,
            timeout=60,
            check=True,
        )
        runs = json.loads(shown.stdout)["runs"]
        assert [r["name"] for r in runs[:2]] == ["RouteInput", "ValidateInput"] and runs[-1]["name"] == "Released"

        followed = subprocess.run(  # noqa: PLW1510 - the exit code is asserted below
            [
                *CLI,
                "release",
                "--asg",
                "live_asg_api",
                "--target-version",
                "1.0.274",
                "--version-url",
                template,
                "--min-healthy",
                "1",
                "--poll-seconds",
                "1",
                "--state-machine-arn",
                machines[0]["stateMachineArn"],
                "--endpoint-url",
                endpoint,
                "--region",
                "us-east-1",
                "--follow",
            ],
            capture_output=True,
            text=True,
            env={**_env(), "COLUMNS": "200"},
            cwd=ROOT,
            timeout=90,
        )
        assert followed.returncode == 0, followed.stdout + followed.stderr
        assert "live_asg_api" in followed.stdout and "CONVERGED" in followed.stdout

        dry = subprocess.run(  # noqa: PLW1510 - the exit code is asserted below
            [
                *CLI,
                "plan",
                "--asg",
                "live_asg_plan",
                "--target-version",
                "1.0.274",
                "--version-url",
                template,
                "--min-healthy",
                "2",
                "--state-machine-arn",
                machines[0]["stateMachineArn"],
                "--endpoint-url",
                endpoint,
                "--region",
                "us-east-1",
            ],
            capture_output=True,
            text=True,
            env={**_env(), "COLUMNS": "200"},
            cwd=ROOT,
            timeout=90,
        )
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert "live_asg_plan: PLANNED" in dry.stdout and dry.stdout.count("terminate: in the next batch") == 1
        assert sorted(planned) == sorted(i for i in _ids(clients["autoscaling"], "live_asg_plan"))
    finally:
        assert simulator.interrupt() == 0
    assert program.interrupt() == 0
    assert not _group_alive(program.process.pid) and not _group_alive(simulator.process.pid)


def _demo(*args: str, timeout: float) -> Any:
    """``asg-terminator demo --json ARGS`` in a fresh process, as a user runs it: its JSON summary."""
    done = subprocess.run(  # noqa: PLW1510 - the exit code is asserted below
        [*CLI, "demo", *args, "--json"], capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=timeout
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("debug", [False, True], ids=["quiet", "debug"])
def test_local_up_says_one_line_per_execution_event_and_moto_logs_only_with_debug(debug: bool) -> None:
    """A release of an ASG that does not exist: its Task fails and Choice states meet missing paths,
    which moto's interpreter logs with whole parse trees. local up says the start and the end (status,
    error, message), each in one line; with --debug, moto's own log is back."""
    program = Program("local", "up", "--port", str(_free_port()), *(["--debug"] if debug else []))
    try:
        endpoint = program.wait_for(r"endpoint:\s+(http://127\.0\.0\.1:\d+)").group(1)
        sfn = boto3.client(
            "stepfunctions",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
        given = {"asg_names": ["live_asg_missing"], "target_version": "1.0.274"}
        sfn.start_execution(stateMachineArn=machine, name="missing-1", input=json.dumps(given))

        started = program.wait_for(r"^execution missing-1 started: .*$").group(0)
        ended = program.wait_for(r"^execution missing-1 ended .*$").group(0)
        program.wait_for(r"^execution missing-1 FAILED: 'Step Functions Execution Status Change' delivered to Cleanup")
    finally:
        assert program.interrupt() == 0
    assert program.process.stdout is not None
    said = "".join(program.lines) + program.process.stdout.read()

    assert started == "execution missing-1 started: live_asg_missing to 1.0.274"
    assert ended == (
        "execution missing-1 ended FAILED: ReleaseFailedError: 1 of 1 ASGs failed: live_asg_missing FAILED "
        "AsgNotFoundError after 0 terminated in 0 batches: live_asg_missing: no Auto Scaling group of that name "
        "in this account and region"
    )
    noise = ("Exception=", "StringJsonPath", "FailureEventException", "stackTrace")
    if debug:
        assert "Exception=FailureEventException" in said  # moto's interpreter, as it logs
    else:
        assert not [n for n in noise if n in said], said
        assert max(len(line) for line in said.splitlines()) <= 400


def test_demo_converges_and_writes_the_history(tmp_path: Path) -> None:
    html = tmp_path / "history.html"
    args = ["--asgs", "web,api", "--instances", "2", "--boot-seconds", "1", "--min-healthy", "1", "--html", str(html)]
    summary = _demo(*args, timeout=120)
    assert summary["status"] == "SUCCEEDED"
    assert {a["asg_name"]: a["versions_after"] for a in summary["output"]["asgs"]} == {
        "web": {"1.0.274": 2},
        "api": {"1.0.274": 2},
    }
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert '<div class="graph" id="graph"><svg' in page and 'id="state-UnlockAsg"' in page  # no Graphviz needed


def test_demo_with_canary_analysis_passes_a_healthy_build_and_rolls_a_slow_one_back(tmp_path: Path) -> None:
    """The canary demo docs/input.md describes: 1.0.274 passes its canary and converges; 1.0.275,
    3x slower, fails its canary at the first checkpoint (CanaryAnalysisFailedError) and rolls back
    onto 1.0.274."""
    html = tmp_path / "history.html"
    passed, failed = _demo("--canary-analysis", "--asgs", "web", "--html", str(html), timeout=180)["releases"]
    assert passed["status"] == "SUCCEEDED" and passed["output"]["asgs"][0]["versions_after"] == {"1.0.274": 3}
    assert [r["verdict"] for r in passed["canary"]] and all(r["verdict"] == "PASS" for r in passed["canary"])
    assert failed["status"] == "FAILED" and "CanaryAnalysisFailedError" in failed["cause"]
    assert "ROLLED_BACK" in failed["cause"]
    assert html.read_text().startswith("<!DOCTYPE html>") and html.with_name("history-2.html").exists()


def _ids(autoscaling: Any, name: str) -> list[str]:
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return [i["InstanceId"] for g in groups for i in g["Instances"]]


LOOP_MARKER = "<!-- the local loop: tests/workflow/test_local_stack.py runs these commands as written -->"


def _readme_loop() -> list[str]:
    """The README's three local-loop commands, exactly as written there."""
    text = (ROOT / "README.md").read_text()
    block = text.split(LOOP_MARKER, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_the_readmes_local_loop_releases_an_upload_as_written(tmp_path: Path) -> None:
    endpoint_port, simulator_port = _free_port(), _free_port()

    def as_here(line: str) -> list[str]:
        """The line with this run's free ports, and the venv's programs (the README runs them from .venv)."""
        words = shlex.split(line.replace("4566", str(endpoint_port)).replace("8080", str(simulator_port)))
        if words[0] == ".venv/bin/asg-terminator":
            return [*CLI, *words[1:]]
        assert words[0] == "aws", line
        return [str(Path(sys.executable).parent / "aws"), *words[1:]]

    up, simulate, upload = _readme_loop()
    assert up.startswith(".venv/bin/asg-terminator local up") and upload.startswith("aws s3 cp build.zip ")
    stack = Program(*as_here(up)[len(CLI) :])
    simulator: Program | None = None
    try:
        endpoint = stack.wait_for(r"endpoint:\s+(http://127\.0\.0\.1:\d+)").group(1)
        stack.wait_for(r"lease table: asg-terminator-leases")
        stack.wait_for(r"artifact bucket: asg-terminator-artifacts")
        defaults = json.loads(stack.wait_for(r"release defaults: (\{.*\})").group(1))
        assert defaults == {
            "poll_seconds": 1,
            "version_url": f"http://127.0.0.1:{simulator_port}/{{InstanceId}}/version",
        }
        simulator = Program(*as_here(simulate)[len(CLI) :])
        simulator.wait_for(r"created ASG web: 3 instances on 1\.0\.266, tagged asg-terminator:app=app")
        hint = simulator.wait_for(r"release defaults for local up: --release-defaults '(\{.*\})'").group(1)
        assert json.loads(hint)["version_url"] == defaults["version_url"]  # the two commands compose

        (tmp_path / "build.zip").write_bytes(b"build 1.0.274")
        copied = subprocess.run(
            as_here(upload), check=False, capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=60
        )
        assert copied.returncode == 0, copied.stdout + copied.stderr

        arn = stack.wait_for(r"upload s3://asg-terminator-artifacts/app/1\.0\.274/app\.zip: .* started (\S+)").group(1)
        sfn = boto3.client(
            "stepfunctions",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

        execution = wait_for_execution(sfn, arn, timeout=90)
        assert execution.status == "SUCCEEDED", execution.cause
        assert execution.output["asgs"][0]["asg_name"] == "web"
        assert execution.output["asgs"][0]["versions_after"] == {"1.0.274": 3}
    finally:
        if simulator is not None:
            assert simulator.interrupt() == 0
    assert stack.interrupt() == 0


@pytest.mark.parametrize(
    ("defaults", "named"),
    [
        ('{"poll_seconds": 0}', "poll_seconds: 0 is less than the minimum of 1"),
        ('{"version_url": "ftp://{PrivateIpAddress}/version"}', "version_url: does not yield an http(s) URL"),
        ('{"asg_names": ["web"]}', "asg_names: not a default"),
        ('{"pol_seconds": 1}', "pol_seconds: unknown field"),
        ("[1]", "a JSON object of execution input fields"),
        ("{", "not JSON"),
    ],
)
def test_local_up_refuses_bad_release_defaults_naming_the_field(defaults: str, named: str) -> None:
    refused = subprocess.run(
        [*CLI, "local", "up", "--port", str(_free_port()), "--release-defaults", defaults],
        check=False,
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=60,
    )
    assert refused.returncode != 0
    assert named in refused.stderr
    assert "endpoint:" not in refused.stdout  # it stopped before starting anything


def test_an_upload_with_the_default_version_url_never_leaves_loopback(
    monkeypatch: pytest.MonkeyPatch, loopback_only: list[object]
) -> None:
    """The stack's defaults name no version URL: the release probes http://{PrivateIpAddress}:80/version,
    which moto makes 10.x. local up itself turns the loopback-only probe on; no connection is tried."""
    from asg_terminator.localstack import LocalStack

    monkeypatch.delenv("PROBE_LOOPBACK_ONLY")  # the suite's own guard off: local up must do it
    monkeypatch.delenv("ALLOWED_VERSION_HOSTS", raising=False)
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    lines: list[str] = []
    stack = LocalStack(port=_free_port(), release_defaults={"replacement_timeout_seconds": 3}, say=lines.append)
    with stack as endpoint:
        assert os.environ["PROBE_LOOPBACK_ONLY"] == "true"
        assert os.environ["ALLOWED_VERSION_HOSTS"] == "127.0.0.1"
        assert os.environ["ARTIFACT_BUCKET"] == stack.artifact_bucket  # where a sweep finds its targets
        autoscaling, ec2, s3 = (endpoint.client(s) for s in ("autoscaling", "ec2", "s3"))
        create_asg(autoscaling, ec2, "web", 2, tags={"asg-terminator:app": "app"}, image_id="ami-12c6146b")
        private = [
            i["PrivateIpAddress"]
            for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"]
            if i["State"]["Name"] == "running"
        ]
        assert private and all(ip.startswith("10.") for ip in private)
        s3.put_object(Bucket=stack.artifact_bucket, Key="app/1.0.274/app.zip", Body=b"build")
        deadline = time.monotonic() + 30
        while not stack.started:
            assert time.monotonic() < deadline, lines
            time.sleep(0.05)

        execution = wait_for_execution(endpoint.client("stepfunctions"), stack.started[0]["execution_arn"], 60)

    assert execution.status == "FAILED"
    cause = execution.cause_message()
    assert "web FAILED ReleaseStalledError" in cause
    assert cause.count("address not allowed (local stack: loopback only)") == 2  # every instance, by that reason
    assert loopback_only == []  # and not one connection beyond loopback was tried
