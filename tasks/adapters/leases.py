"""DynamoDB: the lease table (``LEASE_TABLE``), one item per ASG a release holds (see tasks/domain/lease.py).

Every write carries its condition; none relies on a read being fresh. Reads are strongly
consistent anyway, so that a decision is made on the latest item where the store can give it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from tasks.adapters.aws_errors import code_of, translate
from tasks.domain import lease as leases
from tasks.domain.events import UploadClaim
from tasks.domain.lease import Lease, Record, Surge

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

_CONDITION_FAILED = "ConditionalCheckFailedException"
UPLOAD_CLAIM_DAYS = 7  # how long DynamoDB keeps an upload claim (the table's TTL attribute forget_at)
_serializer, _deserializer = TypeSerializer(), TypeDeserializer()


def to_item(lease: Lease) -> dict[str, Any]:
    item: dict[str, Any] = {
        "asg_name": lease.asg_name,
        "holder": lease.holder,
        "expires_at": Decimal(str(lease.expires_at)),
        "term_seconds": lease.term_seconds,
    }
    if lease.target_version is not None:
        item["target_version"] = lease.target_version
    if lease.surge is not None:
        item["surge"] = _surge_map(lease.surge)
    for key in ("suspended", "drained", "drained_from"):
        if getattr(lease, key):
            item[key] = set(getattr(lease, key))  # a string set: never empty in DynamoDB
    if lease.handed_over_by is not None:
        item["handed_over_by"] = lease.handed_over_by
    if lease.repair:
        item["repair"] = True
    if lease.version_url is not None:
        item["version_url"] = lease.version_url
    if lease.probe_timeout_seconds is not None:
        item["probe_timeout_seconds"] = Decimal(str(lease.probe_timeout_seconds))
    return {k: _serializer.serialize(v) for k, v in item.items()}


def _surge_map(surge: Surge) -> dict[str, int]:
    """A surge as the item stores it: its size and the wave's start only when they are set."""
    stored = {"original": surge.original, "surged_to": surge.surged_to, "size": surge.size, "was": surge.was}
    return {k: v for k, v in stored.items() if v is not None}


def _surge_of(stored: dict[str, Any]) -> Surge:
    def number(key: str) -> int | None:
        return None if stored.get(key) is None else int(stored[key])

    return Surge(int(stored["original"]), int(stored["surged_to"]), number("size"), number("was"))


def from_item(raw: dict[str, Any]) -> Lease:
    item = {k: _deserializer.deserialize(v) for k, v in raw.items()}
    surge = item.get("surge")
    return Lease(
        asg_name=str(item["asg_name"]),
        holder=str(item["holder"]),
        expires_at=float(item["expires_at"]),
        term_seconds=int(item["term_seconds"]),
        target_version=item.get("target_version"),
        surge=None if surge is None else _surge_of(surge),
        suspended=tuple(sorted(item.get("suspended", ()))),
        drained=tuple(sorted(item.get("drained", ()))),
        drained_from=tuple(sorted(item.get("drained_from", ()))),
        handed_over_by=item.get("handed_over_by"),
        repair=bool(item.get("repair", False)),
        version_url=item.get("version_url"),
        probe_timeout_seconds=None
        if item.get("probe_timeout_seconds") is None
        else float(item["probe_timeout_seconds"]),
    )


def _update(record: Record, now: float) -> tuple[str, dict[str, Any]]:
    """The UpdateExpression for a renewal and what it records, with its values."""
    sets, adds, deletes, removes = ["expires_at = :now + term_seconds"], list[str](), list[str](), list[str]()
    values: dict[str, Any] = {":now": Decimal(str(now))}
    if record.term_seconds is not None:
        sets = ["term_seconds = :term", "expires_at = :expires"]
        values = {":term": record.term_seconds, ":expires": Decimal(str(now + record.term_seconds))}
    if record.target_version is not None:
        sets.append("target_version = :target")
        values[":target"] = record.target_version
    if record.version_url is not None:
        sets.append("version_url = :version_url")
        values[":version_url"] = record.version_url
    if record.probe_timeout_seconds is not None:
        sets.append("probe_timeout_seconds = :probe_timeout")
        values[":probe_timeout"] = Decimal(str(record.probe_timeout_seconds))
    if record.surge is not None:
        sets.append("surge = :surge")
        values[":surge"] = _surge_map(record.surge)
    if record.clear_surge:
        removes.append("surge")
    for key, placeholder, change, into in (
        ("suspended", ":suspended", record.suspended, adds),
        ("suspended", ":resumed", record.resumed, deletes),
        ("drained", ":drained", record.drained, adds),
        ("drained_from", ":drained_from", record.drained_from, adds),
        ("drained", ":undrained", record.undrained, deletes),
    ):
        if change:
            into.append(f"{key} {placeholder}")
            values[placeholder] = set(change)
    if record.repaired:
        removes.append("repair")
    clauses = [f"SET {', '.join(sets)}"]
    clauses += [f"ADD {', '.join(adds)}"] if adds else []
    clauses += [f"DELETE {', '.join(deletes)}"] if deletes else []
    clauses += [f"REMOVE {', '.join(removes)}"] if removes else []
    return " ".join(clauses), values


class _Table:
    """Strongly consistent reads, and conditional puts that say what the condition met."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def _get_item(self, key: str) -> dict[str, Any] | None:
        try:
            found = self._client.get_item(TableName=self._table, Key={"asg_name": {"S": key}}, ConsistentRead=True)
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"GetItem {self._table} {key}") from e
        return dict(found["Item"]) if "Item" in found else None

    def _put_item(self, key: str, item: dict[str, Any], **kwargs: Any) -> tuple[bool, dict[str, Any] | None]:
        """(True, None) once written; (False, the item the condition met, if any) when it did not hold."""
        try:
            self._client.put_item(TableName=self._table, Item=item, **kwargs)
        except ClientError as e:
            if code_of(e) == _CONDITION_FAILED:
                found: Any = e.response.get("Item")
                return False, found
            raise translate(e, f"PutItem {self._table} {key}") from e
        except BotoCoreError as e:
            raise translate(e, f"PutItem {self._table} {key}") from e
        return True, None


class Leases(_Table):
    def get(self, asg_name: str) -> Lease | None:
        found = self._get_item(asg_name)
        return None if found is None else from_item(found)

    def put(self, lease: Lease, replacing: Lease | None) -> tuple[bool, Lease | None]:
        """Write ``lease`` if the item is still ``replacing`` (None: if there is no item). When it is
        not (someone else wrote first), (False, the item the condition met): DynamoDB's own answer,
        however stale a read would be."""
        kwargs: dict[str, Any] = {
            "ConditionExpression": "attribute_not_exists(asg_name)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if replacing is not None:
            kwargs["ConditionExpression"] = "holder = :old_holder AND expires_at = :old_expires"
            kwargs["ExpressionAttributeValues"] = {
                ":old_holder": _serializer.serialize(replacing.holder),
                ":old_expires": _serializer.serialize(Decimal(str(replacing.expires_at))),
            }
        written, found = self._put_item(lease.asg_name, to_item(lease), **kwargs)
        if written:
            return True, lease
        return False, from_item(found) if found and "holder" in found else None

    def renew(self, asg_name: str, me: str, now: float, record: Record, what: str) -> Lease:
        """Extend the lease and record a change, on the condition that ``me`` holds it; raises
        LeaseLostError (naming the holder) when it does not."""
        expression, values = _update(record, now)
        updated = self._conditional_update(
            asg_name, me, expression, values, "holder = :me", what, ReturnValues="ALL_NEW"
        )
        return from_item(updated["Attributes"])

    def hand_over(self, asg_name: str, me: str, to: str, now: float) -> None:
        """Give the lease to the chain's next execution (``to``); a retry after it succeeded is a no-op."""
        values = {":to": to, ":now": Decimal(str(now))}
        expression = "SET holder = :to, handed_over_by = :me, expires_at = :now + term_seconds"
        self._conditional_update(
            asg_name, me, expression, values, "holder = :me OR holder = :to", f"handing the lease to {to}"
        )

    def release(self, asg_name: str, me: str) -> bool:
        """Delete the item if ``me`` holds it; False when it does not (or there is none)."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=self._key(asg_name),
                ConditionExpression="holder = :me",
                ExpressionAttributeValues={":me": _serializer.serialize(me)},
            )
        except ClientError as e:
            if code_of(e) == _CONDITION_FAILED:
                return False
            raise translate(e, f"DeleteItem {self._table} {asg_name}") from e
        except BotoCoreError as e:
            raise translate(e, f"DeleteItem {self._table} {asg_name}") from e
        return True

    def held_by(self, execution_arn: str) -> list[Lease]:
        """Every lease this execution holds, handed over, or that Cleanup took from it and has not
        let go yet (a strongly consistent scan: the table holds one item per ASG being released)."""
        found: list[Lease] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "ConsistentRead": True,
            "FilterExpression": "holder = :arn OR holder = :cleanup OR handed_over_by = :arn",
            "ExpressionAttributeValues": {
                ":arn": _serializer.serialize(execution_arn),
                ":cleanup": _serializer.serialize(leases.CLEANUP + execution_arn),
            },
        }
        try:
            while True:
                page = self._client.scan(**kwargs)
                found.extend(from_item(i) for i in page.get("Items", []) if "holder" in i)
                if "LastEvaluatedKey" not in page:
                    return found
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"Scan {self._table}") from e

    def _conditional_update(
        self,
        asg_name: str,
        me: str,
        expression: str,
        values: dict[str, Any],
        condition: str,
        what: str,
        **extra: Any,
    ) -> dict[str, Any]:
        try:
            updated = self._client.update_item(
                TableName=self._table,
                Key=self._key(asg_name),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues={k: _serializer.serialize(v) for k, v in {**values, ":me": me}.items()},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **extra,
            )
        except ClientError as e:
            if code_of(e) == _CONDITION_FAILED:
                old: Any = e.response.get("Item")
                holder = str(_deserializer.deserialize(old["holder"])) if old and "holder" in old else None
                raise leases.lost(asg_name, me, holder, what) from e
            raise translate(e, f"UpdateItem {self._table} {asg_name}") from e
        except BotoCoreError as e:
            raise translate(e, f"UpdateItem {self._table} {asg_name}") from e
        return dict(updated)

    @staticmethod
    def _key(asg_name: str) -> dict[str, Any]:
        return {"asg_name": {"S": asg_name}}


class UploadClaims(_Table):
    """Which execution each upload of a build started (see tasks/domain/events.py), in the lease table."""

    def get(self, key: str) -> UploadClaim | None:
        found = self._get_item(key)
        if found is None:
            return None
        item = {k: _deserializer.deserialize(v) for k, v in found.items()}
        return UploadClaim(key, str(item["execution_name"]), str(item["execution_arn"]), float(item["claimed_at"]))

    def put(self, claim: UploadClaim, replacing: UploadClaim | None) -> bool:
        """Record the claim if the item is still ``replacing`` (None: absent); False when it is not."""
        item = {
            "asg_name": claim.key,
            "execution_name": claim.execution_name,
            "execution_arn": claim.execution_arn,
            "claimed_at": Decimal(str(claim.claimed_at)),
            "forget_at": int(claim.claimed_at) + UPLOAD_CLAIM_DAYS * 86400,
        }
        kwargs: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(asg_name)"}
        if replacing is not None:
            kwargs["ConditionExpression"] = "execution_name = :old"
            kwargs["ExpressionAttributeValues"] = {":old": {"S": replacing.execution_name}}
        written, _ = self._put_item(claim.key, {k: _serializer.serialize(v) for k, v in item.items()}, **kwargs)
        return written
