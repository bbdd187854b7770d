"""CloudWatch: the state of the alarms a release watches, and per-instance metrics (canary_analysis)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tasks.adapters.aws_errors import translate

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef
else:
    CloudWatchClient = Any

PAGE = 100  # DescribeAlarms takes at most 100 names
QUERIES_PER_CALL = 500  # GetMetricData takes at most 500 queries
INSTANCE_DIMENSION = "InstanceId"


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

    def instance_datapoints(
        self,
        metrics: Sequence[tuple[str, str, str]],
        instance_ids: Sequence[str],
        start: datetime,
        end: datetime,
        period_seconds: int,
    ) -> dict[tuple[int, str], list[float]]:
        """Each (namespace, metric name, statistic) read per instance (dimension InstanceId) over
        [start, end) at ``period_seconds``: (metric index, instance id) -> its datapoints' values.
        An instance that published nothing has no entry."""
        queries: list[tuple[str, int, str]] = [
            (f"m{m}_{n}", m, instance_id) for m in range(len(metrics)) for n, instance_id in enumerate(instance_ids)
        ]
        found: dict[tuple[int, str], list[float]] = {}
        for first in range(0, len(queries), QUERIES_PER_CALL):
            chunk = queries[first : first + QUERIES_PER_CALL]
            wanted = {query_id: (m, instance_id) for query_id, m, instance_id in chunk}
            asked: list[MetricDataQueryTypeDef] = [
                {
                    "Id": query_id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": metrics[m][0],
                            "MetricName": metrics[m][1],
                            "Dimensions": [{"Name": INSTANCE_DIMENSION, "Value": instance_id}],
                        },
                        "Period": period_seconds,
                        "Stat": metrics[m][2],
                    },
                    "ReturnData": True,
                }
                for query_id, m, instance_id in chunk
            ]
            try:
                pages = self._client.get_paginator("get_metric_data").paginate(
                    MetricDataQueries=asked, StartTime=start, EndTime=end, ScanBy="TimestampAscending"
                )
                for page in pages:
                    for result in page.get("MetricDataResults", []):
                        values = [float(v) for v in result.get("Values", [])]
                        if values and result.get("Id") in wanted:
                            found.setdefault(wanted[result["Id"]], []).extend(values)
            except (ClientError, BotoCoreError) as e:
                names = ", ".join(sorted({f"{metrics[m][0]}/{metrics[m][1]}" for _, m, _ in chunk}))
                raise translate(e, f"GetMetricData {names[:200]} for {len(instance_ids)} instances") from e
        return found
