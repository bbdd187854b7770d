"""Bad input, everywhere: every handler rejects it with a named error naming the field, before any
AWS call (the check runs first, so nothing can be terminated). The tables below are what was tried."""

from __future__ import annotations

import copy
import importlib
import json
from pathlib import Path
from typing import Any

import pytest

from tasks.domain.decide import decide
from tasks.domain.fleet import Decision
from tasks.domain.replacement import begin_replacement
from tasks.errors import InvalidExecutionInputError, InvalidStepInputError
from tasks.handlers import FUNCTIONS, module_name
from tests.unit.builders import ASG, OLD, RELEASE_ID, TARGET, at, fleet, instance, outcome_progress, settings

EVENTS = Path(__file__).parent.parent / "events"
HUGE = "x" * 100_000

LATENCY = {"namespace": "App", "metric_name": "Latency", "fails_when": "increase"}  # a canary_analysis metric

# -- the execution input (the public contract): field, value ("<missing>" to drop it), what the error says
EXECUTION_INPUT_CASES = [
    ("asg_names", "<missing>", "asg_names: required field is missing"),
    ("asg_names", [], "asg_names: [] should be non-empty"),
    ("asg_names", "live_asg_web", "asg_names: 'live_asg_web' is not of type 'array'"),
    ("asg_names", [f"asg-{n}" for n in range(51)], "asg_names: "),
    ("asg_names", ["web", "web"], "has non-unique elements"),
    ("asg_names", [""], "asg_names[0]: '' should be non-empty"),
    ("asg_names", [HUGE], "asg_names[0]: "),
    ("asg_names", [7], "asg_names[0]: 7 is not of type 'string'"),
    ("target_version", 1.0, "target_version: 1.0 is not of type 'string'"),
    ("target_version", "latest", "target_version: 'latest' is not a version"),
    ("target_version", HUGE, "target_version: "),
    ("version_url", "ftp://{PrivateIpAddress}/version", "version_url: does not yield an http(s) URL"),
    ("version_url", "http://{PrivateIp}/version", "version_url: unknown placeholder {PrivateIp}"),
    ("version_url", "http://{PrivateIpAddress/version", "version_url: unbalanced braces"),
    ("version_url", "/version", "version_url: does not yield an http(s) URL"),
    ("version_url", "", "version_url: '' should be non-empty"),
    ("version_url", "http://" + HUGE, "version_url: "),
    ("version_url", "http://169.254.169.254/latest/meta-data", "version_url: host '169.254.169.254' is a link-local"),
    ("version_url", "http://[fd00:ec2::254]/latest/meta-data", "version_url: host 'fd00:ec2::254' is a link-local"),
    ("version_url", "http://0xa9fea9fe/latest/meta-data", "version_url: host '0xa9fea9fe' is a link-local"),
    ("version_url", "http://version.internal/{InstanceId}", "version_url: host 'version.internal' is not an instance"),
    ("version_url", "http://{tag:Name}.internal/version", "version_url: {tag:Name} may appear only in the path"),
    ("version_url", "http://{InstanceId}/version", "version_url: {InstanceId} may appear only in the path"),
    ("version_url", "http://{PrivateIpAddress}:{tag:port}/v", "version_url: {tag:port} may appear only in the path"),
    ("version_url", "http://{tag:u}@{PublicDnsName}/version", "version_url: {tag:u} may appear only in the path"),
    ("version_url", "http://{PrivateIpAddress}.nip.io/version", "version_url: the host must be exactly one of"),
    ("min_healthy", -1, "min_healthy: -1 is less than the minimum of 0"),
    ("min_healthy", "2", "min_healthy: '2' is not of type 'integer'"),
    ("min_healthy", 2.5, "min_healthy: 2.5 is not of type 'integer'"),
    ("min_healthy_percent", 101, "min_healthy_percent: 101 is greater than the maximum of 100"),
    ("max_batch", 0, "max_batch: 0 is less than the minimum of 1"),
    ("max_batch", "all", "max_batch: 'all' is not of type 'integer'"),
    ("poll_seconds", 0, "poll_seconds: 0 is less than the minimum of 1"),
    ("poll_seconds", 86400, "poll_seconds: 86400 is greater than the maximum of 3600"),
    ("replacement_timeout_seconds", None, "replacement_timeout_seconds: None is not of type 'integer'"),
    ("probe_timeout_seconds", 0, "probe_timeout_seconds: 0 is less than or equal to the minimum of 0"),
    ("probe_timeout_seconds", 31, "probe_timeout_seconds: 31 is greater than the maximum of 30"),
    ("replace_unreadable", "yes", "replace_unreadable: 'yes' is not of type 'boolean'"),
    ("allow_downgrade", "yes", "allow_downgrade: 'yes' is not of type 'boolean'"),
    ("allow_downgrade", None, "allow_downgrade: None is not of type 'boolean'"),
    ("asg_targets", "x", "asg_targets: 'x' is not of type 'object'"),
    ("asg_targets", {"live_asg_web": {"version": "1.0.1"}}, "asg_targets.live_asg_web.from: required field is missing"),
    ("asg_targets", {"live_asg_web": {"version": 5, "from": "s3"}}, "asg_targets.live_asg_web.version: 5 is not of"),
    ("asg_targets", {"live_asg_web": {"version": "1.0.1", "from": HUGE}}, "asg_targets.live_asg_web.from: "),
    ("asg_targets", {"": {"version": "1.0.1", "from": "s3"}}, "asg_targets: "),
    ("asg_targets", {"live_asg_web": {"version": "1.0.1", "from": "s3"}}, "asg_targets: give target_version or"),
    ("max_history_events", 100, "max_history_events: 100 is less than the minimum of 200"),
    ("max_history_events", 30000, "max_history_events: 30000 is greater than the maximum of 24000"),
    ("continuation", {"origin": "x"}, "continuation.index: required field is missing"),
    ("suspend_processes", ["Launch"], "suspend_processes: Launch cannot be suspended: a release needs"),
    ("suspend_processes", ["AZRebalance", "ReplaceUnhealthy"], "suspend_processes: ReplaceUnhealthy cannot be"),
    ("suspend_processes", ["AddToLoadBalancer"], "suspend_processes: AddToLoadBalancer cannot be suspended"),
    ("suspend_processes", ["AZRebalance", "AZRebalance"], "suspend_processes: "),
    ("suspend_processes", ["Rebalance"], "suspend_processes[0]: 'Rebalance' is not one of"),
    ("suspend_processes", "AZRebalance", "suspend_processes: 'AZRebalance' is not of type 'array'"),
    ("healthy_for_seconds", -1, "healthy_for_seconds: -1 is less than the minimum of 0"),
    ("healthy_for_seconds", 900, "healthy_for_seconds: 900 s leaves no time within replacement_timeout_seconds"),
    ("when_held", "wait", "when_held: 'wait' is not one of ['fail', 'skip', 'skip_same_target']"),
    ("event_bus_name", "other-bus", "event_bus_name: 'other-bus' is not 'default', the stack's EventBusName"),
    ("event_bus_name", "arn:aws:events:us-east-1:123456789012:event-bus/other", "event_bus_name: 'arn:aws:events"),
    ("pin_parameter", "/asg-terminator/prod-{asg_name}/build", "pin_parameter: '/asg-terminator/prod-{asg_name}/b"),
    ("pin_parameter", "/asg-terminator/build/{asg_name}", "{asg_name} only inside a path segment"),
    ("canary_analysis", {"metrics": [LATENCY]}, "canary_analysis: needs checkpoints: the canary is judged at each"),
    ("canary_analysis", "x", "canary_analysis: 'x' is not of type 'object'"),
    ("canary_analysis", {"period_seconds": 60}, "canary_analysis.metrics: required field is missing"),
    ("canary_analysis", {"metrics": []}, "canary_analysis.metrics: [] should be non-empty"),
    (
        "canary_analysis",
        {"metrics": [{**LATENCY, "metric_name": f"M{n}"} for n in range(11)]},
        "canary_analysis.metrics: ",
    ),
    ("canary_analysis", {"metrics": [LATENCY, LATENCY]}, "has non-unique elements"),
    (
        "canary_analysis",
        {"metrics": [{**LATENCY, "fails_when": "up"}]},
        "canary_analysis.metrics[0].fails_when: 'up' is not one of",
    ),
    (
        "canary_analysis",
        {"metrics": [{**LATENCY, "statistic": "avg"}]},
        "canary_analysis.metrics[0].statistic: 'avg' does not match",
    ),
    ("canary_analysis", {"metrics": [{**LATENCY, "unit": "ms"}]}, "canary_analysis.metrics[0].unit: unknown field"),
    ("canary_analysis", {"metrics": [{**LATENCY, "tolerance_percent": -1}]}, "tolerance_percent: -1 is less than"),
    ("canary_analysis", {"metrics": [LATENCY], "period_seconds": 0}, "canary_analysis.period_seconds: 0 is less than"),
    ("canary_analysis", {"metrics": [LATENCY], "period_seconds": 45}, "period_seconds: 45 is no CloudWatch period"),
    (
        "canary_analysis",
        {"metrics": [LATENCY], "period_seconds": 600},
        "period_seconds: 600 s is longer than bake_seconds",
    ),
    ("canary_analysis", {"metrics": [LATENCY], "min_samples": 0}, "canary_analysis.min_samples: 0 is less than"),
    ("canary_analysis", {"metrics": [LATENCY], "pass_score": 101}, "canary_analysis.pass_score: 101 is greater than"),
    ("canary_analysis", {"metrics": [LATENCY], "marginal_score": 96}, "marginal_score: 96 is above pass_score 95"),
    ("min_heathy", 2, "min_heathy: unknown field"),
    ("TargetVersion", "1.0.274", "TargetVersion: unknown field"),
]


def console_input() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / "console_input.json").read_text())
    return loaded


@pytest.mark.parametrize(("field", "value", "expected"), EXECUTION_INPUT_CASES)
def test_bad_execution_input_is_rejected_naming_the_field(field: str, value: Any, expected: str) -> None:
    from tasks.handlers.validate_input import handler

    event = console_input()
    if value == "<missing>":
        del event[field]
    else:
        event[field] = value

    with pytest.raises(InvalidExecutionInputError) as rejected:
        handler(event, None)
    assert expected in str(rejected.value)
    assert len(str(rejected.value)) < 2000  # a huge value is not echoed back whole


# -- every step's own input: a valid event per step, then each required field dropped, given the
#    wrong type, and an unknown field added.
def valid_events() -> dict[str, dict[str, Any]]:
    seen = fleet(instance("i-0a01", OLD), instance("i-0a02", OLD), instance("i-0a03", TARGET))
    # The states pass a fleet by the key of its stored record (never fetched here: bad input fails first).
    seen_ref = {"asg_name": seen.asg_name, "key": f"fleets/t/{seen.asg_name}/{'0' * 32}.json", "instances": 3}
    chosen = decide(seen, decide(seen, _empty(), _policy(), at(0)), _policy(), at(0))
    pending = begin_replacement(chosen, ["i-0a01"], at(1), poll_seconds=5)
    at_checkpoint = chosen.update(decision=Decision("checkpoint", "checkpoint 1 of 2"))
    upload: dict[str, Any] = json.loads((EVENTS / "s3_object_created.json").read_text())
    outcome = {
        "asg_name": ASG,
        "status": "CONVERGED",
        "progress": outcome_progress(chosen.to_record()),
        "release_id": RELEASE_ID,
    }
    return {
        "ResolveEvent": upload,
        "StartRelease": upload,
        "Cleanup": json.loads((EVENTS / "execution_aborted.json").read_text()),
        "LockAsg": {"asg_name": ASG, "release_id": RELEASE_ID, "takes_over": None, "settings": settings()},
        "UnlockAsg": {"asg_name": ASG, "release_id": RELEASE_ID},
        "Discover": {"asg_name": ASG, "release_id": RELEASE_ID, "version_url": "http://{PrivateIpAddress}/version"},
        "ReadVersions": {"fleet": seen_ref, "probe_timeout_seconds": 2},
        "WatchBooting": {
            "asg_name": ASG,
            "release_id": RELEASE_ID,
            "settings": settings(),
            "progress": {
                **_empty().to_record(),
                "decision": {
                    "action": "wait",
                    "message": "waiting",
                    "batch": [],
                    "watch": ["i-0123456789abcdef0"],
                    "fleet_key": seen_ref["key"],
                },
            },
        },
        "SelectBatch": {
            "asg_name": ASG,
            "release_id": RELEASE_ID,
            "fleet": seen_ref,
            "progress": _empty().to_record(),
            "settings": settings(),
        },
        "Drain": {"asg_name": ASG, "release_id": RELEASE_ID, "progress": chosen.to_record(), "alarm_names": []},
        "Terminate": {"asg_name": ASG, "release_id": RELEASE_ID, "progress": chosen.to_record()},
        "CheckReplacement": {
            "asg_name": ASG,
            "release_id": RELEASE_ID,
            "progress": pending.to_record(),
            "settings": settings(),
        },
        "PassCheckpoint": {"asg_name": ASG, "progress": at_checkpoint.to_record(), "alarm_names": []},
        "AwaitApproval": {
            "task_token": "AQCEAAAAKgAAAAMAAAAA",
            "asg_name": ASG,
            "release_id": RELEASE_ID,
            "execution_id": RELEASE_ID,
            "message": "checkpoint 1 of 2",
            "event_bus_name": None,
            "rollback_on_failure": False,
        },
        "RollBack": {
            "asg_name": ASG,
            "release_id": RELEASE_ID,
            "progress": pending.to_record(),
            "failure": {"Error": "AlarmTriggeredError", "Cause": "web-5xx"},
            "pin_parameter": "/asg-terminator/{asg_name}/build",
        },
        "ContinueAsNewExecution": {
            "state_machine_arn": "arn:aws:states:us-east-1:123456789012:stateMachine:asg-terminator-release",
            "execution_id": RELEASE_ID,
            "next": {"name": "test-c2", "input": {"asg_names": [ASG]}},
        },
        "Summarize": {
            "outcomes": [outcome],
            "settings": settings(),
            "continuation": None,
            "execution_id": RELEASE_ID,
            "execution_name": "test",
        },
    }


def _empty() -> Any:
    from tasks.domain.fleet import Progress

    return Progress()


def _policy() -> Any:
    from tasks.domain.policy import Policy

    return Policy.from_settings({**settings(), "target_version": TARGET})


def step_cases() -> list[tuple[str, str, Any, str]]:
    from tasks import contracts

    cases = []
    for step, _event in valid_events().items():
        schema = contracts.schema(f"{module_name(step)}.input")
        required = schema.get("required") or contracts.schema("resolve_event.input")["required"]
        for field in required:
            cases.append((step, field, "<missing>", f"{field}: required field is missing"))
            cases.append((step, field, True, f"{field}: True is not of type"))
        if schema.get("additionalProperties") is False:
            cases.append((step, "surprise", 1, "surprise: unknown field"))
    return cases


def test_every_function_has_a_valid_event_here() -> None:
    assert set(valid_events()) == set(FUNCTIONS) - {"ValidateInput"}


@pytest.mark.parametrize(("step", "field", "value", "expected"), step_cases())
def test_bad_step_input_is_rejected_before_any_aws_call(step: str, field: str, value: Any, expected: str) -> None:
    handler = importlib.import_module(f"tasks.handlers.{module_name(step)}").handler
    event = copy.deepcopy(valid_events()[step])
    if value == "<missing>":
        del event[field]
    else:
        event[field] = value

    with pytest.raises(InvalidStepInputError) as rejected:
        handler(event, None)  # no AWS is mocked here: reaching a call would fail differently
    assert str(rejected.value).startswith(f"{module_name(step)} input: ")
    assert expected in str(rejected.value)
