"""EC2: the instance attributes a version URL template may name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tasks.adapters.aws_errors import translate
from tasks.domain.fleet import iso

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
else:
    EC2Client = Any

# DescribeInstances takes many ids per call; 1,000 instances cost one request.
IDS_PER_CALL = 1000


@dataclass(frozen=True)
class InstanceFacts:
    placeholders: dict[str, str]  # the URL template's attributes, and tags as ``tag:NAME``
    launched: str


class Ec2:
    def __init__(self, client: EC2Client) -> None:
        self._client = client

    def describe(self, instance_ids: Iterable[str]) -> dict[str, InstanceFacts]:
        ids = sorted(set(instance_ids))
        found: dict[str, InstanceFacts] = {}
        paginator = self._client.get_paginator("describe_instances")
        for start in range(0, len(ids), IDS_PER_CALL):
            chunk = ids[start : start + IDS_PER_CALL]
            try:
                for page in paginator.paginate(InstanceIds=chunk):
                    for reservation in page.get("Reservations", []):
                        for instance in reservation.get("Instances", []):
                            found[instance["InstanceId"]] = _facts(dict(instance))
            except (ClientError, BotoCoreError) as e:
                raise translate(e, f"DescribeInstances ({len(chunk)} ids)") from e
        return found


def _facts(instance: dict[str, Any]) -> InstanceFacts:
    values = {
        "InstanceId": instance.get("InstanceId", ""),
        "PrivateIpAddress": instance.get("PrivateIpAddress", ""),
        "PrivateDnsName": instance.get("PrivateDnsName", ""),
        "PublicIpAddress": instance.get("PublicIpAddress", ""),
        "PublicDnsName": instance.get("PublicDnsName", ""),
        "AvailabilityZone": instance.get("Placement", {}).get("AvailabilityZone", ""),
    }
    values.update({f"tag:{t['Key']}": t.get("Value", "") for t in instance.get("Tags", [])})
    launched = instance.get("LaunchTime")
    return InstanceFacts(values, iso(launched) if isinstance(launched, datetime) else str(launched or ""))
