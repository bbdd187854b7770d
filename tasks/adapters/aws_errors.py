"""The one place where AWS error codes become the state machine's error names."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from tasks.errors import AwsRequestError, AwsThrottledError, AwsUnavailableError

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ResourceContention",  # Auto Scaling: another update to the group is pending
    }
)
UNAVAILABLE_CODES = frozenset({"ServiceUnavailable", "InternalError", "InternalFailure", "Unavailable"})


def code_of(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def translate(error: BotoCoreError | ClientError, action: str) -> Exception:
    """Map a botocore failure to a named error; the caller does ``raise translate(e, ...) from e``."""
    if isinstance(error, BotoConnectionError):
        return AwsUnavailableError(f"{action}: could not reach AWS: {error}")
    if not isinstance(error, ClientError):
        return AwsUnavailableError(f"{action}: {error}")
    code = code_of(error)
    message = error.response.get("Error", {}).get("Message", "")
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in THROTTLING_CODES:
        return AwsThrottledError(f"{action}: throttled ({code}): {message}")
    if code in UNAVAILABLE_CODES or status >= 500:
        return AwsUnavailableError(f"{action}: AWS unavailable ({code or status}): {message}")
    return AwsRequestError(f"{action}: {code}: {message}")
