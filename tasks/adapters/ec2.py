"""EC2: the instance attributes a version URL template may name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tasks.adapters.aws_errors import code_of, translate
from tasks.domain.fleet import iso

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mypy_boto3_ec2 import EC2Client
else:
    EC2Client = Any

# DescribeInstances takes many ids per call; 1,000 instances cost one request.
IDS_PER_CALL = 1000
_NOT_FOUND_ID = re.compile(r"i-[0-9a-f]+")


# EC2 states of an instance that is going, whatever a lagging DescribeAutoScalingGroups still lists.
GOING = frozenset({"shutting-down", "terminated"})


@dataclass(frozen=True)
class InstanceFacts:
    placeholders: dict[str, str]  # the URL template's attributes, and tags as ``tag:NAME``
    launched: str
    state: str = ""  # EC2's State.Name: pending, running, shutting-down, terminated, stopping, stopped

    @property
    def going(self) -> bool:
        """EC2 shuts the instance down or has: it leaves the group, and desired capacity no longer
        counts it, even while the group's list, which lags, still shows it InService."""
        return self.state in GOING


class Ec2:
    def __init__(self, client: EC2Client) -> None:
        self._client = client

    def describe(self, instance_ids: Iterable[str]) -> dict[str, InstanceFacts]:
        ids = sorted(set(instance_ids))
        found: dict[str, InstanceFacts] = {}
        paginator = self._client.get_paginator("describe_instances")
        for start in range(0, len(ids), IDS_PER_CALL):
            found.update(self._describe_chunk(paginator, ids[start : start + IDS_PER_CALL]))
        return found

    def _describe_chunk(self, paginator: Any, chunk: list[str]) -> dict[str, InstanceFacts]:
        """One call for up to 1,000 ids. EC2 fails the whole call when any id is not visible yet
        (just after Auto Scaling launches it): drop those ids, which then read as "not yet
        described", and ask again."""
        while chunk:
            try:
                return {
                    instance["InstanceId"]: _facts(dict(instance))
                    for page in paginator.paginate(InstanceIds=chunk)
                    for reservation in page.get("Reservations", [])
                    for instance in reservation.get("Instances", [])
                }
            except ClientError as e:
                unseen = set(_NOT_FOUND_ID.findall(str(e))) if code_of(e) == "InvalidInstanceID.NotFound" else set()
                if not unseen & set(chunk):
                    raise translate(e, f"DescribeInstances ({len(chunk)} ids)") from e
                chunk = [i for i in chunk if i not in unseen]
            except BotoCoreError as e:
                raise translate(e, f"DescribeInstances ({len(chunk)} ids)") from e
        return {}


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
    state = str(instance.get("State", {}).get("Name", ""))
    return InstanceFacts(values, iso(launched) if isinstance(launched, datetime) else str(launched or ""), state)
