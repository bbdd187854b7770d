"""The release state machine as the local stack and the tests deploy it."""

from __future__ import annotations

import functools
import re
import threading
from typing import TYPE_CHECKING, Any

from samtranslator.yaml_helper import yaml_parse

from asg_terminator.paths import RELEASE_ASL, SAM_TEMPLATE

if TYPE_CHECKING:
    from collections.abc import Mapping

ROLE_ARN = "arn:aws:iam::123456789012:role/asg-terminator-release"
LEASE_TABLE = "asg-terminator-leases"
FLEET_BUCKET = "asg-terminator-fleets"
_SUBSTITUTION = re.compile(r"\$\{(\w+)\}")


def definition(values: Mapping[str, str]) -> str:
    """The ASL with every ``${Name}`` substituted, as SAM's DefinitionSubstitutions would."""
    text = RELEASE_ASL.read_text(encoding="utf-8")
    missing = sorted(set(_SUBSTITUTION.findall(text)) - set(values))
    if missing:
        raise KeyError(f"no substitution for {', '.join(missing)}")
    return _SUBSTITUTION.sub(lambda m: values[m.group(1)], text)


def create_release_state_machine(sfn: Any, values: Mapping[str, str], name: str = "asg-terminator-release") -> str:
    """Create (or find) the state machine; returns its ARN."""
    for machine in sfn.list_state_machines().get("stateMachines", []):
        if machine["name"] == name:
            return str(machine["stateMachineArn"])
    created = sfn.create_state_machine(name=name, definition=definition(values), roleArn=ROLE_ARN)
    return str(created["stateMachineArn"])


def create_lease_table(dynamodb: Any, name: str = LEASE_TABLE) -> str:
    """Create (or find) the lease table exactly as infra/template.yaml declares it; returns its name."""
    if name in dynamodb.list_tables().get("TableNames", []):
        return name
    properties = yaml_parse(SAM_TEMPLATE.read_text(encoding="utf-8"))["Resources"]["LeaseTable"]["Properties"]
    declared = {k: properties[k] for k in ("BillingMode", "AttributeDefinitions", "KeySchema")}
    dynamodb.create_table(TableName=name, **declared)
    return name


def create_fleet_bucket(s3: Any, name: str = FLEET_BUCKET) -> str:
    """Create (or find) the fleet bucket with the lifecycle rule infra/template.yaml declares; returns its name."""
    if name not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        s3.create_bucket(Bucket=name)
    properties = yaml_parse(SAM_TEMPLATE.read_text(encoding="utf-8"))["Resources"]["FleetBucket"]["Properties"]
    rules = [
        {
            "ID": rule["Id"],
            "Status": rule["Status"],
            "Filter": {"Prefix": rule["Prefix"]},
            "Expiration": {"Days": int(rule["ExpirationInDays"])},
        }
        for rule in properties["LifecycleConfiguration"]["Rules"]
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    return name


_DYNAMODB = threading.RLock()
_AUTOSCALING = threading.RLock()


@functools.cache
def make_moto_atomic() -> None:
    """AWS applies each request whole; moto's backends do not lock, and the local stack's functions
    run in threads of one process (tests/workflow/test_interpreter_seams.py checks these methods exist).
    - DynamoDB applies each write to an item atomically, its condition checked as it lands; moto
      checks and then writes, so two threads' conditional writes can both pass. Its item reads and
      writes are serialized.
    - Auto Scaling: moto's TerminateInstanceInAutoScalingGroup looks the instance up in a list that
      another thread's termination is changing (StopIteration). Terminate makes up to ten at once, as
      AWS takes them: every Auto Scaling backend method is serialized.
    """
    from moto.autoscaling.models import AutoScalingBackend  # noqa: PLC0415 - moto only where it runs
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415

    for backend, names, lock in (
        (DynamoDBBackend, ITEM_OPERATIONS, _DYNAMODB),
        (AutoScalingBackend, autoscaling_operations(), _AUTOSCALING),
    ):
        for name in names:
            method = getattr(backend, name)

            def locked(self: Any, *args: Any, _method: Any = method, _lock: Any = lock, **kwargs: Any) -> Any:
                with _lock:
                    return _method(self, *args, **kwargs)

            setattr(backend, name, functools.wraps(method)(locked))


def autoscaling_operations() -> tuple[str, ...]:
    """Every public method of moto's Auto Scaling backend (the requests it serves)."""
    from moto.autoscaling.models import AutoScalingBackend  # noqa: PLC0415

    return tuple(n for n, v in vars(AutoScalingBackend).items() if callable(v) and not n.startswith("_"))


ITEM_OPERATIONS = ("get_item", "put_item", "update_item", "delete_item")


@functools.cache
def make_moto_scale() -> None:
    """moto finds one EC2 resource's tags by scanning every tag of every resource (``describe_tags``
    filtered by id), so describing N tagged instances costs N x N: 4,000 instances took 42 s, past
    Discover's 60 s timeout with a read of the versions. Read the resource's own entry instead, the
    same list in the same shape (tests/workflow/test_interpreter_seams.py checks the method exists)."""
    from moto.ec2.models.core import TaggedEC2Resource  # noqa: PLC0415 - moto only where it runs
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix  # noqa: PLC0415

    def get_tags(self: Any) -> list[dict[str, str]]:
        if not getattr(self, "id", None):
            return []
        kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(self.id), "")
        own = self.ec2_backend.tags.get(self.id, {})
        return [{"resource_id": self.id, "key": k, "value": v, "resource_type": kind} for k, v in own.items()]

    get_tags.__wrapped__ = TaggedEC2Resource.get_tags  # type: ignore[attr-defined]
    TaggedEC2Resource.get_tags = get_tags  # type: ignore[method-assign]
