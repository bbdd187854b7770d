"""SSM Parameter Store: the pinned build that booting instances fetch (``pin_parameter``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tasks.adapters.aws_errors import code_of, translate

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient
else:
    SSMClient = Any

DESCRIPTION = "The build new instances boot (written by asg-terminator releases)"


class Parameters:
    def __init__(self, client: SSMClient) -> None:
        self._client = client

    def pinned(self, name: str) -> str | None:
        try:
            return str(self._client.get_parameter(Name=name)["Parameter"]["Value"])
        except ClientError as e:
            if code_of(e) == "ParameterNotFound":
                return None
            raise translate(e, f"GetParameter {name}") from e
        except BotoCoreError as e:
            raise translate(e, f"GetParameter {name}") from e

    def pin(self, name: str, version: str) -> str | None:
        """Make ``name`` say ``version``; returns what it said before (unchanged when already so)."""
        before = self.pinned(name)
        if before != version:
            try:
                self._client.put_parameter(
                    Name=name, Value=version, Type="String", Overwrite=True, Description=DESCRIPTION
                )
            except (ClientError, BotoCoreError) as e:
                raise translate(e, f"PutParameter {name}") from e
        return before
