"""EventBridge: send a release's notifications (tasks/domain/notifications.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from tasks import contracts
from tasks.adapters.aws_errors import translate
from tasks.domain.notifications import SOURCE
from tasks.errors import AwsRequestError, InvalidStepOutputError

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
else:
    EventBridgeClient = Any


class Events:
    def __init__(self, client: EventBridgeClient) -> None:
        self._client = client

    def send(self, bus: str, detail_type: str, detail: dict[str, Any]) -> None:
        """One event on ``bus``, its detail checked against the documented schema first."""
        event = {"detail-type": detail_type, "detail": detail}
        contracts.check("notification", event, InvalidStepOutputError, f"{detail_type} event")
        entry = {"Source": SOURCE, "DetailType": detail_type, "Detail": json.dumps(detail), "EventBusName": bus}
        try:
            answer = self._client.put_events(Entries=[entry])  # type: ignore[list-item]
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"PutEvents {detail_type} to {bus}") from e
        if answer.get("FailedEntryCount"):
            failed = answer["Entries"][0]
            raise AwsRequestError(
                f"PutEvents {detail_type} to {bus}: {failed.get('ErrorCode')}: {failed.get('ErrorMessage')}"
            )
