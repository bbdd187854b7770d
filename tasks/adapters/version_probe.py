"""Read ``GET /version`` from many instances at once, treating every endpoint as untrusted.

Bounded in every direction: at most ``concurrency`` probes in flight (connections open) and as many
threads, never more than one per endpoint; a per-probe deadline (connect, headers and body
together); a body cap; no redirects; no proxies or netrc (urllib3's connections alone: nothing reads
the environment).

How the time goes: a pool thread connects and sends a request, then lets go; the calling thread
waits for every sent request at once (one selector), and hands a connection back to the pool when
its answer starts arriving. The pool takes work in submission order, so requests are sent before
answers are read, and a hanging endpoint's timeout starts early in the read instead of after the
answers queued before it (benchmarks/probe.py). At a probe's deadline the calling thread reports the
timeout and shuts the connection down, which also frees a thread stuck on an endpoint that drips its
headers (per-read socket timeouts never fire on those).
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import itertools
import math
import selectors
import socket
import ssl
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING

import requests.utils
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    LocationParseError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util import parse_url
from urllib3.util.ssl_ import create_urllib3_context

from tasks.domain import urls, versions

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterator, Mapping

    from urllib3.response import BaseHTTPResponse

# The most probes in flight at once: each holds a connection (a file descriptor) and may hold a
# thread, and Lambda allows 1,024 of each per execution environment. benchmarks/probe.py (1,000
# endpoints, 2% hanging): more is faster while the CPU keeps up, but on a loaded machine 512 and
# 1,000 in flight let answering endpoints pass their timeout, which 256 did not.
DEFAULT_CONCURRENCY = 256
HARD_STOP_GRACE_SECONDS = 1.0
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# What requests sent (its User-Agent, Accept and Accept-Encoding), without keep-alive: one request a connection.
REQUEST_HEADERS = {**requests.utils.default_headers(), "Connection": "close"}

_SENT, _DONE = 0, 1


@dataclass(frozen=True)
class Reading:
    version: str | None
    reason: str | None


class _Probe:
    """One endpoint's probe: its connection, and the lock that orders closing it with cutting it."""

    __slots__ = ("closed", "conn", "deadline", "hold", "instance_id", "lock", "response", "sock", "url", "waiting")

    def __init__(self, instance_id: str, url: str) -> None:
        self.instance_id = instance_id
        self.url = url
        self.deadline = 0.0
        self.conn: HTTPConnection | None = None
        self.sock: socket.socket | None = None
        self.hold: object | None = None
        self.response: BaseHTTPResponse | None = None
        self.lock = threading.Lock()
        self.closed = False
        self.waiting = False  # registered with the calling thread's selector (which then owns it)

    def attach(self, conn: HTTPConnection) -> bool:
        with self.lock:
            if self.closed or conn.sock is None:
                return False
            self.conn, self.sock = conn, conn.sock
            # A file object over the socket keeps its descriptor open (http.client closes the socket
            # once the body ends) until close() below, so cut() never reaches a reused descriptor.
            self.hold = conn.sock.makefile("rb", buffering=0)
            return True

    def cut(self) -> None:
        """From another thread: end the connection, so whatever blocks on it returns at once."""
        with self.lock:
            if not self.closed and self.sock is not None:
                with contextlib.suppress(OSError):
                    self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            for closable in (self.response, self.conn, self.hold, self.sock):
                try:
                    if closable is not None:
                        closable.close()  # type: ignore[attr-defined]
                except OSError:
                    pass


class VersionProber:
    def __init__(
        self,
        timeout_seconds: float,
        concurrency: int = DEFAULT_CONCURRENCY,
        clock: Callable[[], float] = time.monotonic,
        loopback_only: bool = False,
        allowed_hosts: Collection[str] = (),
    ) -> None:
        self._timeout = timeout_seconds
        self._timeout_text = f"timeout after {timeout_seconds:g} s"
        self._loopback_only = loopback_only
        self._allowed_hosts = tuple(allowed_hosts)
        self._concurrency = max(1, concurrency)
        self._clock = clock
        self._ssl_context: ssl.SSLContext | None = None
        self._ssl_lock = threading.Lock()

    def read(self, url: str) -> Reading:
        return self.read_all({"": url})[""]

    def read_all(self, urls: Mapping[str, str]) -> dict[str, Reading]:
        """Probe every (instance id -> url) concurrently; one Reading per id, never an exception."""
        if not urls:
            return {}
        return _Read(self, urls).run()

    def _send(self, probe: _Probe, read: _Read) -> None:
        """In the pool: connect and send the request, then hand the connection to the calling thread."""
        try:
            reading = self._connect_and_send(probe)
        except Exception as e:  # a defect here must neither escape nor hold the slot until the hard stop
            reading = Reading(None, _connection_reason(e))
        if reading is None:
            if not read.tell(_SENT, probe):
                probe.close()
            return
        read.readings.setdefault(probe.instance_id, reading)
        probe.close()
        read.tell(_DONE, probe)

    def _connect_and_send(self, probe: _Probe) -> Reading | None:
        # Before any connection: never link-local or metadata, loopback only when listed, and on
        # the local stack nothing beyond this machine.
        refused = urls.address_refusal(probe.url, self._allowed_hosts, self._loopback_only)
        if refused is not None:
            return Reading(None, refused)
        probe.deadline = self._clock() + self._timeout
        try:
            target = parse_url(probe.url)
        except LocationParseError:
            return Reading(None, "request failed: InvalidURL")
        if target.scheme not in ("http", "https") or not target.host:
            return Reading(None, "request failed: InvalidSchema" if target.host else "request failed: InvalidURL")
        host = target.host.strip("[]")  # an IPv6 literal, as the socket wants it
        conn: HTTPConnection
        if target.scheme == "https":
            conn = HTTPSConnection(
                host, target.port, timeout=self._timeout, cert_reqs="CERT_REQUIRED", ssl_context=self._tls()
            )
        else:
            conn = HTTPConnection(host, target.port, timeout=self._timeout)
        try:
            conn.connect()
            if not probe.attach(conn):
                conn.close()
                return Reading(None, self._timeout_text)
            conn.request("GET", target.request_uri, headers=REQUEST_HEADERS, preload_content=False)
        except NewConnectionError as e:  # refused, unreachable, not resolved (a ConnectTimeoutError subclass)
            conn.close()
            return Reading(None, _connection_reason(e))
        except (ConnectTimeoutError, TimeoutError):
            conn.close()
            return Reading(None, self._timeout_text)
        except Exception as e:  # an untrusted endpoint: every failure is a reading
            conn.close()
            return Reading(None, _connection_reason(e))
        return None

    def _answer(self, probe: _Probe, read: _Read) -> None:
        """In the pool, once the answer starts arriving: read it within the probe's deadline."""
        if probe.instance_id not in read.readings:
            try:
                reading = self._receive(probe)
            except Exception as e:  # as in _send: one Reading, and the slot freed
                reading = Reading(None, _connection_reason(e, aborted=True))
            read.readings.setdefault(probe.instance_id, reading)
        probe.close()
        read.tell(_DONE, probe)

    def _receive(self, probe: _Probe) -> Reading:
        conn, sock = probe.conn, probe.sock
        assert conn is not None and sock is not None
        remaining = probe.deadline - self._clock()
        if remaining <= 0:
            return Reading(None, self._timeout_text)
        try:
            conn.timeout = remaining
            response = probe.response = conn.getresponse()
        except TimeoutError:
            return Reading(None, self._timeout_text)
        except Exception as e:  # http.client's and the socket's, from an untrusted endpoint
            return Reading(None, _connection_reason(e, aborted=True))
        status = response.status
        if status in REDIRECT_STATUSES and "location" in response.headers:
            return Reading(None, f"redirect (HTTP {status}) not followed")
        if status != 200:
            return Reading(None, f"HTTP {status}")
        return self._body(probe, response, sock)

    def _body(self, probe: _Probe, response: BaseHTTPResponse, sock: socket.socket) -> Reading:
        body = bytearray()
        try:
            # In bounded reads (the cap is 1 KiB), each at most one receive within what is left of
            # the deadline, so a dripping body meets the deadline promptly.
            while len(body) <= versions.MAX_BODY_BYTES:
                remaining = probe.deadline - self._clock()
                if remaining <= 0:
                    return Reading(None, self._timeout_text)
                sock.settimeout(remaining)
                chunk = response.read1(versions.MAX_BODY_BYTES + 1 - len(body))
                if not chunk:
                    break
                body += chunk
        except ReadTimeoutError:
            return Reading(None, self._timeout_text)
        except DecodeError:
            return Reading(None, "request failed: ContentDecodingError")
        except ProtocolError:  # cut short, or a broken chunked encoding
            return Reading(None, "request failed: ChunkedEncodingError")
        except Exception as e:  # from an untrusted endpoint, every failure is a reading
            return Reading(None, _connection_reason(e))
        version, reason = versions.read_body(bytes(body))
        return Reading(version, reason)

    def _tls(self) -> ssl.SSLContext:
        """One context for every https probe: the certificates requests verifies against (certifi's)."""
        with self._ssl_lock:
            if self._ssl_context is None:
                context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
                context.load_verify_locations(requests.utils.DEFAULT_CA_BUNDLE_PATH)
                self._ssl_context = context
            return self._ssl_context


class _Read:
    """One read_all: the calling thread waits for every sent request at once and hands out the work."""

    def __init__(self, prober: VersionProber, urls: Mapping[str, str]) -> None:
        self.prober = prober
        self.count = len(urls)
        self.ids = list(urls)
        self.late = Reading(None, prober._timeout_text)
        self.slots = min(prober._concurrency, self.count)
        # A hard stop for the whole read, should a thread be stuck beyond its probe's deadline (a
        # name slow to resolve, a TLS handshake dripped): each slot probes in turn, each probe
        # within its timeout. What has not answered by then is a timeout; its thread is abandoned
        # rather than waited for.
        waves = math.ceil(self.count / self.slots)
        self.hard_stop = prober._clock() + prober._timeout * waves + HARD_STOP_GRACE_SECONDS
        self.readings: dict[str, Reading] = {}  # the first reading of an id wins (setdefault)
        self.queued = deque(_Probe(i, u) for i, u in urls.items())
        self.in_flight: set[_Probe] = set()
        self.deadlines: list[tuple[float, int, _Probe]] = []  # of the probes sent, a heap
        self.order = itertools.count()
        self.inbox: SimpleQueue[tuple[int, _Probe]] = SimpleQueue()
        self.wake, self.waker = socket.socketpair()
        self.wake.setblocking(False)
        self.waker.setblocking(False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.wake, selectors.EVENT_READ)
        self.pool = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="probe")

    def tell(self, kind: int, probe: _Probe) -> bool:
        """From the pool: a request sent or a probe done. Whether the read still listens."""
        self.inbox.put((kind, probe))
        try:
            self.waker.send(b"\0")
        except BlockingIOError:  # full: the calling thread wakes anyway
            pass
        except OSError:  # closed: the read is over
            return False
        return True

    def run(self) -> dict[str, Reading]:
        clock = self.prober._clock
        try:
            while True:
                now = clock()
                self._expire(now)  # first: a probe past its deadline frees its slot
                while self.queued and len(self.in_flight) < self.slots:
                    probe = self.queued.popleft()
                    self.in_flight.add(probe)
                    self.pool.submit(self.prober._send, probe, self)
                if len(self.readings) == self.count or now >= self.hard_stop:
                    break
                until = min(self.hard_stop, self.deadlines[0][0]) if self.deadlines else self.hard_stop
                for key, _ in self.selector.select(max(0.0, until - now)):
                    if key.data is None:
                        self._take()
                    else:
                        probe = key.data
                        self.selector.unregister(key.fileobj)
                        probe.waiting = False
                        self.pool.submit(self.prober._answer, probe, self)
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)
            for probe in self.in_flight:
                if probe.waiting:
                    probe.close()
                else:
                    probe.cut()
            self.selector.close()
            self.wake.close()
            self.waker.close()
        return {i: self.readings.get(i, self.late) for i in self.ids}

    def _expire(self, now: float) -> None:
        """Past its deadline a probe is a timeout: closed if waiting, else cut (its thread closes it)."""
        while self.deadlines and self.deadlines[0][0] <= now:
            probe = heapq.heappop(self.deadlines)[2]
            self.readings.setdefault(probe.instance_id, self.late)
            if probe.waiting:
                self._let_go(probe)
            else:
                probe.cut()

    def _take(self) -> None:
        """What the pool told: requests sent (to wait for), probes done (their slots free)."""
        with contextlib.suppress(OSError):  # drained: BlockingIOError
            while self.wake.recv(4096):
                pass
        while True:
            try:
                kind, probe = self.inbox.get_nowait()
            except Empty:
                return
            if kind == _DONE:
                self.in_flight.discard(probe)
            elif probe.instance_id in self.readings:  # sent after its deadline
                self._let_go(probe)
            else:
                assert probe.sock is not None
                probe.waiting = True
                self.selector.register(probe.sock, selectors.EVENT_READ, probe)
                heapq.heappush(self.deadlines, (probe.deadline, next(self.order), probe))

    def _let_go(self, probe: _Probe) -> None:
        if probe.waiting:
            assert probe.sock is not None
            self.selector.unregister(probe.sock)
            probe.waiting = False
        probe.close()
        self.in_flight.discard(probe)


def _connection_reason(error: BaseException, aborted: bool = False) -> str:
    """The reason text for a connection that failed; ``aborted``: it failed after the request was
    sent (requests' "Connection aborted."), which reads as a reset unless refused or a timeout."""
    for cause in _chain(error):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.timeout | TimeoutError):
            return "unreachable (timeout)"
        if isinstance(cause, socket.gaierror):
            return "name not resolved"
    if aborted and isinstance(error, OSError | http.client.HTTPException):
        return "connection reset"
    text = str(error)
    if "refused" in text.lower():
        return "connection refused"
    if "reset" in text.lower() or "aborted" in text.lower():
        return "connection reset"
    return "unreachable"


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
