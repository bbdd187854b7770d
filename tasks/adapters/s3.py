"""S3: the artifacts bucket, read for the builds uploaded to it (a sweep releases only those), and
the stack's fleet bucket, where each read of a fleet is stored for the states to pass by key."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from tasks import contracts
from tasks.adapters.aws_errors import code_of, translate
from tasks.domain.fleet import Fleet
from tasks.errors import AwsRequestError, InvalidStepInputError, InvalidStepOutputError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

MAX_PAGES = 100  # 100,000 keys: a sweep reads at most this many per app


class ArtifactStore:
    def __init__(self, client: S3Client) -> None:
        self._client = client

    def keys(self, bucket: str, prefix: str) -> list[str]:
        """The keys under ``prefix`` (ListObjectsV2, every page up to MAX_PAGES)."""
        keys: list[str] = []
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        try:
            for _ in range(MAX_PAGES):
                page = self._client.list_objects_v2(**kwargs)
                keys.extend(str(o["Key"]) for o in page.get("Contents", []))
                if not page.get("IsTruncated"):
                    break
                kwargs["ContinuationToken"] = page["NextContinuationToken"]
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"ListObjectsV2 s3://{bucket}/{prefix}") from e
        return keys


FLEET_PREFIX = "fleets/"  # the prefix the functions' roles may read and write, and the lifecycle rule expires


@dataclass(frozen=True)
class StoredFleet:
    """A fleet record read back from the bucket: the read, the release that stored it, and the step
    that wrote it (``fleet_record.json``'s ``written_by``)."""

    release_id: str
    fleet: Fleet
    written_by: str
    read_seconds: float | None = None  # how long the read took (a record from before it was kept: None)


class FleetRecords:
    """The claim checks: each read of a fleet is stored in the stack's fleet bucket and the states pass
    its key (``fleet_ref``), so no state's payload grows with the ASG (Step Functions caps a payload at
    256 KiB; a 10,000-instance record is about 600 KiB).

    A key is the execution, the ASG and a digest of the record, so a record is written once and never
    changes: a retried step writes the same key, and a decision can name the read it saw. Each record
    is checked against ``fleet_record.json`` when it is read.
    """

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def key(self, release_id: str, asg_name: str, body: bytes) -> str:
        execution = release_id.rsplit(":", 1)[-1]
        digest = hashlib.sha256(body).hexdigest()[:32]
        return f"{FLEET_PREFIX}{quote(execution, safe='')}/{quote(asg_name, safe='')}/{digest}.json"

    def put(self, release_id: str, written_by: str, fleet: Fleet, read_seconds: float | None = None) -> dict[str, Any]:
        """Store one read (``read_seconds``: how long it took, describing and probing); returns its
        ``fleet_ref``. The key is the read's digest, its timing aside."""
        record: dict[str, Any] = {"release_id": release_id, "written_by": written_by, "fleet": fleet.to_record()}
        key = self.key(release_id, fleet.asg_name, _compact(record))
        if read_seconds is not None:
            record["read_seconds"] = round(read_seconds, 3)
        contracts.check("fleet_record", record, InvalidStepOutputError, f"{written_by}: fleet record")
        body = _compact(record)
        try:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/json")
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"PutObject s3://{self._bucket}/{key}") from e
        return {
            "asg_name": fleet.asg_name,
            "key": key,
            "instances": len(fleet.instances),
            "desired": fleet.desired,
            "census": fleet.census(),
        }

    def get(self, asg_name: str, key: str, instances: int | None = None) -> StoredFleet:
        """The read stored at ``key``, checked against its schema and against what names it: the ASG's
        name and (from a ``fleet_ref``) how many instances it lists."""
        where = f"s3://{self._bucket}/{key}"
        try:
            body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as e:
            if code_of(e) in ("NoSuchKey", "404"):
                raise AwsRequestError(
                    f"GetObject {where}: no such fleet record (expired by the bucket's lifecycle rule, or "
                    f"never written): read the fleet again"
                ) from e
            raise translate(e, f"GetObject {where}") from e
        except BotoCoreError as e:
            raise translate(e, f"GetObject {where}") from e
        try:
            record = json.loads(body)
        except ValueError as e:
            raise InvalidStepInputError(f"fleet record {where}: not JSON ({e})") from e
        contracts.check("fleet_record", record, InvalidStepInputError, f"fleet record {where}")
        fleet = Fleet.from_record(record["fleet"])
        if fleet.asg_name != asg_name or instances not in (None, len(fleet.instances)):
            raise InvalidStepInputError(
                f"fleet record {where}: holds {len(fleet.instances)} instances of {fleet.asg_name!r}, "
                f"not {'the' if instances is None else instances} of {asg_name!r} as its reference says"
            )
        return StoredFleet(
            release_id=str(record["release_id"]),
            fleet=fleet,
            written_by=str(record["written_by"]),
            read_seconds=record.get("read_seconds"),
        )

    def read(self, ref: dict[str, Any]) -> StoredFleet:
        """The read a ``fleet_ref`` names."""
        return self.get(str(ref["asg_name"]), str(ref["key"]), int(ref["instances"]))


def _compact(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
