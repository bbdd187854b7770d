"""CloudWatch: the state of the alarms a release watches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tasks.adapters.aws_errors import translate

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
else:
    CloudWatchClient = Any

PAGE = 100  # DescribeAlarms takes at most 100 names


class CloudWatch:
    def __init__(self, client: CloudWatchClient) -> None:
        self._client = client

    def alarm_states(self, names: list[str]) -> dict[str, tuple[str, str]]:
        """Each named alarm that exists (metric or composite): its (state, reason)."""
        states: dict[str, tuple[str, str]] = {}
        for start in range(0, len(names), PAGE):
            chunk = names[start : start + PAGE]
            try:
                pages = self._client.get_paginator("describe_alarms").paginate(
                    AlarmNames=chunk, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
                )
                for page in pages:
                    for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                        states[alarm["AlarmName"]] = (alarm["StateValue"], alarm.get("StateReason", ""))
            except (ClientError, BotoCoreError) as e:
                raise translate(e, f"DescribeAlarms {', '.join(chunk)[:200]}") from e
        return states
