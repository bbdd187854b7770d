"""Step Functions: start a release execution under a name that makes duplicates harmless."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tasks.adapters.aws_errors import code_of, translate

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient
else:
    SFNClient = Any


@dataclass(frozen=True)
class ExecutionState:
    status: str | None  # None: no such execution
    stopped_at: float | None  # epoch seconds
    input: dict[str, Any] | None


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN an execution of that name has (or would have)."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


class StepFunctions:
    def __init__(self, client: SFNClient) -> None:
        self._client = client

    def start_once(self, state_machine_arn: str, name: str, execution_input: dict[str, Any]) -> str | None:
        """Start the execution; None when one of that name exists already (a duplicate delivery).

        StartExecution alone cannot tell: with the same name and input as a running execution it
        succeeds and returns that execution, so a duplicate would look like a start. Look first.
        """
        if self._exists(execution_arn(state_machine_arn, name)):
            return None
        try:
            started = self._client.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
            )
        except ClientError as e:
            if code_of(e) == "ExecutionAlreadyExists":
                return None
            raise translate(e, f"StartExecution {name}") from e
        except BotoCoreError as e:
            raise translate(e, f"StartExecution {name}") from e
        return str(started["executionArn"])

    def is_running(self, execution_arn: str) -> bool:
        """Whether that execution is still running (an unknown one is not)."""
        return self.state_of(execution_arn).status == "RUNNING"

    def state_of(self, execution_arn: str) -> ExecutionState:
        """The execution's status (None: no such execution), when it stopped, and its input."""
        described = self._describe(execution_arn)
        if described is None:
            return ExecutionState(None, None, None)
        stopped = described.get("stopDate")
        return ExecutionState(
            str(described["status"]),
            None if stopped is None else stopped.timestamp(),
            json.loads(described["input"]) if described.get("input") else None,
        )

    def _exists(self, execution_arn: str) -> bool:
        return self._describe(execution_arn) is not None

    def _describe(self, execution_arn: str) -> dict[str, Any] | None:
        """DescribeExecution, or None when there is no such execution."""
        try:
            return dict(self._client.describe_execution(executionArn=execution_arn))
        except ClientError as e:
            if code_of(e) in ("ExecutionDoesNotExist", "InvalidArn"):
                return None
            raise translate(e, f"DescribeExecution {execution_arn}") from e
        except BotoCoreError as e:
            raise translate(e, f"DescribeExecution {execution_arn}") from e
