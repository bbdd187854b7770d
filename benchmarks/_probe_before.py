"""VersionProber as it was before issue 14 item 5 (commit 519b7c0), for benchmarks/probe.py's side-by-side row:
a thread per probe in flight, waiting on its answer; every GET through the requests adapter.

Bounded in every direction: a pool of threads, a per-probe deadline (connect, headers and body
together), a body cap, no redirects, no proxies or netrc from the environment.
"""

from __future__ import annotations

import math
import socket
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError

from tasks.domain import urls, versions

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator, Mapping

DEFAULT_CONCURRENCY = 128  # benchmarks/probe.py: 64 misses the 1,000-endpoint budget when 2% hang
HARD_STOP_GRACE_SECONDS = 1.0


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
        loopback_only: bool = False,
        allowed_hosts: Collection[str] = (),
    ) -> None:
        self._timeout = timeout_seconds
        self._loopback_only = loopback_only
        self._allowed_hosts = tuple(allowed_hosts)
        self._concurrency = max(1, concurrency)
        self._clock = clock
        self._session = session or _session(self._concurrency)

    def read_all(self, urls: Mapping[str, str]) -> dict[str, Reading]:
        """Probe every (instance id -> url) concurrently; one Reading per id, never an exception."""
        if not urls:
            return {}
        workers = min(self._concurrency, len(urls))
        # A hard stop for the whole read: an endpoint that drips its headers byte by byte defeats
        # per-read socket timeouts, so whatever has not answered by then is a timeout, and its
        # thread is abandoned rather than waited for.
        budget = self._timeout * math.ceil(len(urls) / workers) + HARD_STOP_GRACE_SECONDS
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe")
        futures = {instance_id: pool.submit(self.read, url) for instance_id, url in urls.items()}
        wait(futures.values(), timeout=budget)
        pool.shutdown(wait=False, cancel_futures=True)
        late = Reading(None, f"timeout after {self._timeout:g} s")
        return {i: f.result() if f.done() and not f.cancelled() else late for i, f in futures.items()}

    def read(self, url: str) -> Reading:
        # Before any connection: never link-local or metadata, loopback only when listed, and on
        # the local stack nothing beyond this machine.
        refused = urls.address_refusal(url, self._allowed_hosts, self._loopback_only)
        if refused is not None:
            return Reading(None, refused)
        deadline = self._clock() + self._timeout
        timeout_text = f"timeout after {self._timeout:g} s"
        try:
            with self._get(url) as response:
                if response.is_redirect:
                    return Reading(None, f"redirect (HTTP {response.status_code}) not followed")
                if response.status_code != 200:
                    return Reading(None, f"HTTP {response.status_code}")
                body = bytearray()
                # Byte by byte (the cap is 1 KiB), so a dripping body meets the deadline promptly.
                for chunk in response.iter_content(1):
                    body.extend(chunk)
                    if len(body) > versions.MAX_BODY_BYTES:
                        break
                    if self._clock() > deadline:
                        return Reading(None, timeout_text)
        except requests.Timeout:
            return Reading(None, timeout_text)
        except requests.ConnectionError as e:
            # A read that times out mid-body reaches us as a ConnectionError wrapping ReadTimeoutError.
            if _caused_by(e, ReadTimeoutError):
                return Reading(None, timeout_text)
            return Reading(None, _connection_reason(e))
        except requests.RequestException as e:
            return Reading(None, f"request failed: {type(e).__name__}")
        version, reason = versions.read_body(bytes(body))
        return Reading(version, reason)

    def _get(self, url: str) -> requests.Response:
        """One GET through the session's adapter, skipping Session.request's per-call merging of
        environment settings, cookies and hooks (about a sixth of a probe's CPU, benchmarks/probe.py):
        no proxies (whatever the environment says), no redirects (the adapter never follows them),
        the body streamed, the session's headers sent as before."""
        prepared = requests.Request("GET", url, headers=self._session.headers).prepare()
        adapter = self._session.get_adapter(url)
        return adapter.send(prepared, stream=True, timeout=self._timeout, verify=True, cert=None, proxies={})


def _connection_reason(error: requests.ConnectionError) -> str:
    for cause in _chain(error):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.timeout | TimeoutError):
            return "unreachable (timeout)"
        if isinstance(cause, socket.gaierror):
            return "name not resolved"
    text = str(error)
    if "refused" in text.lower():
        return "connection refused"
    if "reset" in text.lower() or "aborted" in text.lower():
        return "connection reset"
    return "unreachable"


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    return any(isinstance(cause, kind) for cause in _chain(error))


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it wraps, through causes, contexts and urllib3's args."""
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__ or _first_arg_error(seen)


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
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
