"""Reading and ordering the builds that instances report on ``GET /version``.

Ordering is delegated to ``packaging`` (PEP 440): ``1.0.99 < 1.0.100`` and ``1.0.274 == 1.0.274.0``.
"""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

MAX_BODY_BYTES = 1024
MAX_VERSION_CHARS = 64  # what the step schemas carry; a longer "version" is an unreadable answer
MAX_REASON_CHARS = 120  # a longer reason is cut (bounded_reason)
NOT_A_VERSION = "not a version"
UNKNOWN = "unknown"
# A census names at most this many versions; the rest are counted under OTHER_VERSIONS (neither key is
# a PEP 440 version, so neither can be one an instance reports).
CENSUS_VERSIONS = 20
OTHER_VERSIONS = "other versions"


def normalize(text: str) -> str:
    """Strip what servers commonly wrap a version in: whitespace, quotes and a leading ``v``."""
    text = text.strip().strip("\"'").strip()
    if text[:1] in ("v", "V"):
        text = text[1:].strip()
    return text


def parse(text: str) -> Version:
    """Parse a version string; raises ValueError when it is not a version."""
    try:
        return Version(normalize(text))
    except InvalidVersion as e:
        raise ValueError(f"not a version: {text[:40]!r}") from e


def is_version(text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


def read_body(body: bytes) -> tuple[str | None, str | None]:
    """Turn a ``/version`` response body into (version, None) or (None, reason).

    A reason never shows the body: an endpoint's bytes do not travel into the execution's records
    (its history, its output), only its size or that it is ``not a version``.
    """
    if len(body) > MAX_BODY_BYTES:
        return None, f"body over {MAX_BODY_BYTES} bytes"
    try:
        text = normalize(body.decode("utf-8"))
    except UnicodeDecodeError:
        return None, NOT_A_VERSION
    if len(text) > MAX_VERSION_CHARS or not is_version(text):
        return None, NOT_A_VERSION
    return text, None


def bounded_reason(reason: str | None) -> str | None:
    """A reason as a record carries it: at most MAX_REASON_CHARS characters."""
    if reason is None or len(reason) <= MAX_REASON_CHARS:
        return reason
    return reason[: MAX_REASON_CHARS - 3] + "..."


def same(a: str, b: str) -> bool:
    return parse(a) == parse(b)


def highest(versions: list[str]) -> str | None:
    return max(versions, key=parse, default=None)


def lowest(versions: list[str]) -> str | None:
    return min(versions, key=parse, default=None)
