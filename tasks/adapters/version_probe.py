"""Read ``GET /version`` from many instances at once, treating every endpoint as untrusted.

Bounded in every direction: a pool of threads, a per-probe deadline (connect, headers and body
together), a body cap, no redirects, no proxies or netrc from the environment.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

from tasks.domain import versions

DEFAULT_CONCURRENCY = 64
CHUNK_BYTES = 256


@dataclass(frozen=True)
class Reading:
    version: str | None
    reason: str | None


class VersionProber:
    def __init__(
        self,
        timeout_seconds: float,
        concurrency: int = DEFAULT_CONCURRENCY,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._timeout = timeout_seconds
        self._concurrency = max(1, concurrency)
        self._clock = clock
        self._session = session or _session(self._concurrency)

    def read_all(self, urls: Mapping[str, str]) -> dict[str, Reading]:
        """Probe every (instance id -> url) concurrently; one Reading per id, never an exception."""
        if not urls:
            return {}
        workers = min(self._concurrency, len(urls))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe") as pool:
            readings = pool.map(self.read, urls.values())
            return dict(zip(urls.keys(), readings, strict=True))

    def read(self, url: str) -> Reading:
        deadline = self._clock() + self._timeout
        timeout_text = f"timeout after {self._timeout:g} s"
        try:
            with self._session.get(
                url, timeout=self._timeout, stream=True, allow_redirects=False
            ) as response:
                if response.is_redirect:
                    return Reading(None, f"redirect (HTTP {response.status_code}) not followed")
                if response.status_code != 200:
                    return Reading(None, f"HTTP {response.status_code}")
                body = bytearray()
                for chunk in response.iter_content(CHUNK_BYTES):
                    body.extend(chunk)
                    if len(body) > versions.MAX_BODY_BYTES:
                        break
                    if self._clock() > deadline:
                        return Reading(None, timeout_text)
        except requests.Timeout:
            return Reading(None, timeout_text)
        except requests.ConnectionError as e:
            return Reading(None, _connection_reason(e))
        except requests.RequestException as e:
            return Reading(None, f"request failed: {type(e).__name__}")
        version, reason = versions.read_body(bytes(body))
        return Reading(version, reason)


def _connection_reason(error: requests.ConnectionError) -> str:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.timeout | TimeoutError):
            return "unreachable (timeout)"
        if isinstance(cause, socket.gaierror):
            return "name not resolved"
        cause = cause.__cause__ or cause.__context__ or _first_arg_error(cause)
    text = str(error)
    if "refused" in text.lower():
        return "connection refused"
    if "reset" in text.lower() or "aborted" in text.lower():
        return "connection reset"
    return "unreachable"


def _first_arg_error(error: BaseException) -> BaseException | None:
    """urllib3 wraps the socket error in its exceptions' args rather than as a cause."""
    for arg in getattr(error, "args", ()):
        if isinstance(arg, BaseException):
            return arg
    reason = getattr(error, "reason", None)
    return reason if isinstance(reason, BaseException) else None


def _session(pool_size: int) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies or netrc: only the URL the operator's template built
    session.max_redirects = 0
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
