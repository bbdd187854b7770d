"""Reading and ordering the builds that instances report on ``GET /version``.

Ordering is delegated to ``packaging`` (PEP 440): ``1.0.99 < 1.0.100`` and ``1.0.274 == 1.0.274.0``.
"""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

MAX_BODY_BYTES = 1024
MAX_VERSION_CHARS = 64  # what the step schemas carry; a longer "version" is an unreadable answer
MAX_REASON_CHARS = 120
UNKNOWN = "unknown"


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
    """Turn a ``/version`` response body into (version, None) or (None, reason)."""
    if len(body) > MAX_BODY_BYTES:
        return None, f"body over {MAX_BODY_BYTES} bytes"
    try:
        text = normalize(body.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "body is not UTF-8"
    if not is_version(text):
        shown = text[:40] + ("..." if len(text) > 40 else "")
        reason = f"unparsable body {shown!r}"
        return None, reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 3] + "..."
    if len(text) > MAX_VERSION_CHARS:
        return None, f"version over {MAX_VERSION_CHARS} characters"
    return text, None


def same(a: str, b: str) -> bool:
    return parse(a) == parse(b)


def highest(versions: list[str]) -> str | None:
    return max(versions, key=parse, default=None)


def lowest(versions: list[str]) -> str | None:
    return min(versions, key=parse, default=None)
