"""S3: the artifacts bucket, read for the builds uploaded to it (a sweep releases only those)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tasks.adapters.aws_errors import translate

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
