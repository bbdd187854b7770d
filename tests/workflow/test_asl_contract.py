"""What can't be exercised on the local interpreter is checked by reading the ASL itself."""

from __future__ import annotations

import inspect
import json
import re
from importlib import resources
from typing import Any

import pytest

from asg_terminator import asl_walk
from asg_terminator.paths import RELEASE_ASL
from tasks import errors
from tasks.handlers import STEPS, module_name

LAMBDA_SERVICE_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return json.loads(RELEASE_ASL.read_text())


@pytest.fixture(scope="module")
def tasks_(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in asl_walk.states(asl) if state["Type"] == "Task"}


CALLBACK = "arn:aws:states:::lambda:invoke.waitForTaskToken"


def function_of(state: dict[str, Any]) -> str:
    """The function a Task runs: its Resource, or a callback task's FunctionName."""
    return str(state["Parameters"]["FunctionName"] if state["Resource"] == CALLBACK else state["Resource"])


def test_one_name_per_step_across_asl_handlers_and_schemas(tasks_: dict[str, dict[str, Any]]) -> None:
    assert sorted(tasks_) == sorted(STEPS)
    schemas = {p.name for p in resources.files("tasks").joinpath("schemas").iterdir()}
    for step, state in tasks_.items():
        assert function_of(state) == f"${{{step}FunctionArn}}"
        module = module_name(step)
        assert resources.files("tasks").joinpath("handlers", f"{module}.py").is_file()
        assert {f"{module}.input.json", f"{module}.output.json"} <= schemas


def test_every_task_has_a_timeout_and_retries_lambda_service_errors(tasks_: dict[str, dict[str, Any]]) -> None:
    for name, state in tasks_.items():
        assert isinstance(state.get("TimeoutSeconds"), int), name
        retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
        assert retried >= LAMBDA_SERVICE_ERRORS, name


def test_retries_name_only_retryable_errors_with_backoff(tasks_: dict[str, dict[str, Any]]) -> None:
    retryable = {
        c.__name__ for c in vars(errors).values() if inspect.isclass(c) and issubclass(c, errors.RetryableError)
    }
    for name, state in tasks_.items():
        for retrier in state.get("Retry", []):
            for error in retrier["ErrorEquals"]:
                assert error in LAMBDA_SERVICE_ERRORS or error in retryable, f"{name} retries {error}"
                assert not error.startswith("States."), f"{name} retries {error}"
            assert retrier["BackoffRate"] > 1 and retrier["JitterStrategy"] == "FULL", name


def test_every_custom_error_name_is_a_leaf_class_in_errors_py(asl: dict[str, Any]) -> None:
    classes = {c.__name__: c for c in vars(errors).values() if inspect.isclass(c) and issubclass(c, Exception)}
    for name, state in asl_walk.states(asl):
        for clause in state.get("Retry", []) + state.get("Catch", []):
            for error in clause["ErrorEquals"]:
                if error.startswith(("States.", "Lambda.")):
                    continue
                assert error in classes, f"{name}: {error} is not in tasks/errors.py"
                assert not classes[error].__subclasses__(), f"{name}: {error} is not a leaf class"
        for clause in state.get("Catch", []):
            if "States.ALL" in clause["ErrorEquals"]:
                assert clause["ErrorEquals"] == ["States.ALL"] and clause is state["Catch"][-1], name


def test_portable_asl(asl: dict[str, Any], tasks_: dict[str, dict[str, Any]]) -> None:
    text = RELEASE_ASL.read_text()
    # $$.State and $$.Task are not on every interpreter; $$.StateMachine and $$.Execution are. The one
    # exception is a callback task's token: the callback pattern has no other way to pass it.
    assert re.findall(r"\$\$\.(?:State|Task)\b", text) == ["$$.Task"]
    assert "$$.StateMachine.Id" in text  # the check above must not be blind to the prefix
    callbacks = {name: state for name, state in tasks_.items() if "lambda:invoke" in state["Resource"]}
    assert list(callbacks) == ["AwaitApproval"]
    assert callbacks["AwaitApproval"]["Resource"] == CALLBACK
    assert callbacks["AwaitApproval"]["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    for name, state in asl_walk.states(asl):
        assert state.get("ResultPath") != "$", name
        for choice in state.get("Choices", []):
            assert choice.get("IsPresent") is not False, name


def test_no_task_of_one_asg_can_fail_the_others(asl: dict[str, Any]) -> None:
    """An uncaught error in a Map iteration fails the whole Map: every other ASG would stop mid-release
    with its lock (and surge) held. So every Task in the iteration catches States.ALL."""
    iteration = asl["States"]["ReleaseEachAsg"]["ItemProcessor"]["States"]
    tasks = {name: state for name, state in iteration.items() if state["Type"] == "Task"}
    assert "UnlockAsg" in tasks
    for name, state in tasks.items():
        assert any(c["ErrorEquals"] == ["States.ALL"] for c in state.get("Catch", [])), name
    assert iteration["UnlockAsg"]["Catch"][0]["Next"] == "AsgNotCleanedUp"
