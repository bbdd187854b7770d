"""Issue 13 item 9 on the real ASL: the callback token that answers AwaitApproval is shown by no view
of the history (the table, --json, the HTML page, the answering commands), and the answer names the
caller as STS knows them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3

from asg_terminator import approval, history, history_html
from tests.workflow.harness import cli, in_background, wait_for_approvals

if TYPE_CHECKING:
    from pathlib import Path

    from tests.workflow.conftest import World

OLD, NEW = "1.0.266", "1.0.274"
SENT_FAILURE = "provide-client-params.sfn.SendTaskFailure"
CANARY = {"target_version": NEW, "min_healthy": 1, "checkpoints": [1], "bake_seconds": 0, "approve_checkpoints": True}


def test_the_token_is_in_no_view_of_a_waiting_or_answered_release(world: World, tmp_path: Path) -> None:
    world.fleet(build=NEW)
    world.asg("live_asg_web", 2, OLD)
    seen: dict[str, Any] = {}

    def answer(arn: str) -> None:
        (waiting,) = wait_for_approvals(world, arn, 1)
        seen["token"] = waiting.token
        raw = world.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        seen["raw"] = json.dumps(raw, default=str)  # where Step Functions keeps it
        seen["repr"] = repr(waiting)
        seen["waiting"] = views(world, arn, tmp_path / "waiting")
        seen["approve"] = cli(world, "approve", arn, "--note", "canary looks fine").output

    with in_background(world, answer):
        execution, _ = world.release({"asg_names": ["live_asg_web"], **CANARY})

    assert execution.status == "SUCCEEDED", execution.cause
    token = seen["token"]
    assert len(token) > 8 and token in seen["raw"]  # so its absence below means something
    ended = views(world, execution.arn, tmp_path / "ended")
    shown = {**{f"waiting {k}": v for k, v in seen["waiting"].items()}, **{f"ended {k}": v for k, v in ended.items()}}
    shown.update({"approve": seen["approve"], "repr(Waiting)": seen["repr"]})
    for name, text in shown.items():
        assert token not in text, f"the callback token is shown by {name}"
    for name in ("waiting html", "ended html", "ended page"):
        assert history.HIDDEN_TOKEN in shown[name]  # the event is there, the token is not
    assert "live_asg_web: approved; the release goes on" in seen["approve"]


def test_the_answer_names_the_caller_by_its_sts_arn(world: World) -> None:
    world.fleet(build=NEW)
    for name in ("live_asg_web", "live_asg_api"):
        world.asg(name, 2, OLD)
    said: list[str] = []

    def answer(arn: str) -> None:
        wait_for_approvals(world, arn, 2)
        said.append(cli(world, "approve", arn, "--asg", "live_asg_web").output)
        said.append(cli(world, "reject", arn, "--asg", "live_asg_api", "--reason", "5xx on the canary").output)

    failures: list[dict[str, Any]] = []
    session = boto3._get_default_session()  # the one the CLI's clients come from

    def keep(params: dict[str, Any], **_: Any) -> None:
        failures.append(params)

    session.events.register(SENT_FAILURE, keep)
    try:
        with in_background(world, answer):
            execution, _ = world.release({"asg_names": ["live_asg_web", "live_asg_api"], **CANARY})
    finally:
        session.events.unregister(SENT_FAILURE, keep)

    caller = boto3.client("sts", region_name="us-east-1").get_caller_identity()["Arn"]
    assert caller.startswith("arn:aws:")  # moto's, as AWS's: an ARN, not a user name
    assert said[0].startswith("live_asg_web: approved") and said[1].startswith("live_asg_api: rejected")
    assert execution.approvals() == [{"approved_by": caller, "note": ""}]
    (rejected,) = failures  # moto's interpreter drops a failure's cause: read it as sent
    assert rejected["error"] == approval.REJECTED
    assert rejected["cause"].startswith(f"live_asg_api: rejected by {caller} at 'live_asg_api => checkpoint 1 of 1")
    assert rejected["cause"].endswith(": 5xx on the canary")


def views(world: World, arn: str, out: Path) -> dict[str, str]:
    """Everything an operator sees of the history: the CLI's table, JSON and pages, and the page as
    the demo renders it."""
    page = out.with_suffix(".html")
    shown = {
        "table": cli(world, "history", arn).output,
        "json": cli(world, "history", arn, "--json").output,
        "html command": cli(world, "history", arn, "--html", str(page)).output,
    }
    shown["html"] = page.read_text(encoding="utf-8")
    shown["page"] = history_html.render(history.load(world.sfn, arn))
    return shown
