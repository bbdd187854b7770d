"""VersionProber against hostile endpoints on 127.0.0.1 (raw sockets): a reading is its own
endpoint's, never a version from a cut or oversized body, and nothing leaks across reads."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tasks.adapters.version_probe import HARD_STOP_GRACE_SECONDS, VersionProber

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

LOOPBACK = ("127.0.0.1",)


class Raw:
    """A listening socket on 127.0.0.1; every accepted connection is handed to ``serve`` in a thread."""

    def __init__(self, serve: Callable[[socket.socket], None]) -> None:
        self.serve = serve
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/version"
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.serve(conn)

    def close(self) -> None:
        for c in (self.sock, *self.conns):
            with contextlib.suppress(OSError):
                c.close()


def _request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


def replies(
    raw: bytes, delay: float = 0.0, then_close: bool = True, read_first: bool = True
) -> Callable[[socket.socket], None]:
    def serve(conn: socket.socket) -> None:
        if read_first:
            _request(conn)
        time.sleep(delay)
        conn.sendall(raw)
        if then_close:
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        else:
            time.sleep(30)

    return serve


def hang(conn: socket.socket) -> None:
    time.sleep(30)


def reset(conn: socket.socket) -> None:
    _request(conn)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()


def drip(raw: bytes) -> Callable[[socket.socket], None]:
    def serve(conn: socket.socket) -> None:
        _request(conn)
        for b in raw:
            conn.sendall(bytes([b]))
            time.sleep(0.05)
        time.sleep(30)

    return serve


@pytest.fixture
def servers() -> Iterator[Callable[[Callable[[socket.socket], None]], Raw]]:
    made: list[Raw] = []

    def make(serve: Callable[[socket.socket], None]) -> Raw:
        made.append(Raw(serve))
        return made[-1]

    yield make
    for r in made:
        r.close()


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (len(body), extra) + body


CUT_OR_OVER = {
    # Content-Length promises more than is sent, then the connection closes
    "short": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n1.0.274",
    # one chunk, then close without the last chunk
    "chunk-cut": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n1.0.274\r\n",
    # a chunk size larger than the chunk sent
    "chunk-lie": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n1.0.274",
    # a version, then padding past the cap
    "padded-over": ok(b"1.0.274" + b" " * 2000),
    "padded-over-chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n1.0.274\r\n7d0\r\n"
    + b" " * 2000
    + b"\r\n0\r\n\r\n",
    # no length, no chunking: the body ends with the connection, over the cap
    "eof-over": b"HTTP/1.0 200 OK\r\n\r\n1.0.274" + b"\n" * 1100,
    "http09": b"1.0.274\n",
    "header-line-bomb": b"HTTP/1.1 200 OK\r\nX: " + b"a" * 200_000 + b"\r\nContent-Length: 7\r\n\r\n1.0.274",
    "many-headers": b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 5000 + b"Content-Length: 7\r\n\r\n1.0.274",
    "continue-then-500": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\nContent-Length: 7\r\n\r\n1.0.274",
}


def test_no_version_from_a_cut_oversized_or_malformed_answer(servers: Callable[..., Raw]) -> None:
    urls = {name: servers(replies(raw)).url for name, raw in CUT_OR_OVER.items()}
    readings = VersionProber(10.0, concurrency=4, allowed_hosts=LOOPBACK).read_all(urls)
    assert set(readings) == set(urls)
    leaked = {name: r for name, r in readings.items() if r.version is not None}
    assert leaked == {}


@pytest.mark.parametrize(
    "raw",
    [
        ok(b"1.0.274"),
        b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"1.0.274"),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n1.0\r\n4\r\n.274\r\n0\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\n1.0.274",
    ],
)
def test_a_whole_answer_is_read(servers: Callable[..., Raw], raw: bytes) -> None:
    url = servers(replies(raw)).url
    assert VersionProber(10.0, allowed_hosts=LOOPBACK).read(url).version == "1.0.274"


def test_an_answer_sent_before_the_request_is_read(servers: Callable[..., Raw]) -> None:
    url = servers(replies(ok(b"1.0.274"), read_first=False, then_close=False)).url
    r = VersionProber(10.0, allowed_hosts=LOOPBACK).read(url)
    assert r.version in ("1.0.274", None)  # read, or a reset: never another version


@pytest.mark.parametrize("concurrency", [1, 3, 64])
def test_every_reading_is_its_own_endpoints_across_rounds(servers: Callable[..., Raw], concurrency: int) -> None:
    rng = random.Random(concurrency)
    expected: dict[str, str | None] = {}
    urls: dict[str, str] = {}
    n = 12 if concurrency == 1 else 40
    for i in range(n):
        kind = rng.choice(["ok", "ok", "ok", "close", "hang", "reset", "dup"])
        iid = f"i-{i:03d}"
        if kind == "ok":
            v = f"1.{i}.{rng.randrange(1000)}"
            urls[iid] = servers(replies(ok(v.encode()), delay=rng.random() * 0.1)).url
            expected[iid] = v
        elif kind == "dup" and urls:
            other = rng.choice(list(urls))
            urls[iid] = urls[other]
            expected[iid] = expected[other]
        elif kind == "close":
            urls[iid] = servers(replies(b"", delay=rng.random() * 0.1)).url
            expected[iid] = None
        elif kind == "reset":
            urls[iid] = servers(reset).url
            expected[iid] = None
        else:
            urls[iid] = servers(hang).url
            expected[iid] = None
    urls["refused"] = "http://169.254.169.254/latest/meta-data/"
    expected["refused"] = None
    prober = VersionProber(3.0, concurrency=concurrency, allowed_hosts=LOOPBACK)
    for _ in range(2):
        readings = prober.read_all(urls)
        assert set(readings) == set(urls)
        for iid, r in readings.items():
            # a timeout where an answer existed is a lesser defect; a wrong version is not allowed
            assert r.version in (expected[iid], None), iid
        answered = sum(1 for i, r in readings.items() if r.version is not None and r.version == expected[i])
        assert answered >= sum(1 for v in expected.values() if v is not None) * 0.8


def _fds() -> int:
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


def test_repeated_reads_of_hostile_endpoints_leak_no_threads_or_descriptors(servers: Callable[..., Raw]) -> None:
    hostile = {
        "hang": servers(hang).url,
        "drip-headers": servers(drip(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200)).url,
        "drip-body": servers(drip(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n1.0.274")).url,
        "reset": servers(reset).url,
        "never-read": servers(hang).url,
        "ok": servers(replies(ok(b"2.0.0"))).url,
    }
    timeout = 0.4
    prober = VersionProber(timeout, concurrency=3, allowed_hosts=LOOPBACK)
    prober.read_all(hostile)  # warm up (the TLS context, imports)
    time.sleep(timeout + 1)
    for _ in range(4):
        started = time.monotonic()
        readings = prober.read_all(hostile)
        assert time.monotonic() - started < 2 * (timeout + HARD_STOP_GRACE_SECONDS) + 5
        assert readings["drip-body"].version is None
        assert readings["drip-headers"].version is None
    give_up = time.monotonic() + 10
    # the servers' own threads and sockets grow with each connection: count the prober's alone
    while time.monotonic() < give_up:
        probe_threads = [t for t in threading.enumerate() if t.name.startswith("probe")]
        if not probe_threads:
            break
        time.sleep(0.1)
    assert [t.name for t in threading.enumerate() if t.name.startswith("probe")] == []


def test_descriptors_come_back_after_reads_of_endpoints_that_hang() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)  # accepted by the kernel, never by anyone: connect succeeds, nothing is read
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/version"
    prober = VersionProber(0.3, concurrency=4, allowed_hosts=LOOPBACK)
    urls = {f"i-{i}": url for i in range(8)}
    try:
        prober.read_all(urls)
        time.sleep(0.5)
        before = _fds()
        for _ in range(3):
            readings = prober.read_all(urls)
            assert all(r.version is None for r in readings.values())
        give_up = time.monotonic() + 10
        while _fds() > before + 2 * len(urls) and time.monotonic() < give_up:
            time.sleep(0.1)
        # the listener's backlog holds the kernel's side; the prober's own descriptors are closed
        client_fds = _fds() - before
        assert client_fds <= 0 + 2  # slack: pytest's own
    finally:
        listener.close()


def test_https_to_a_server_that_never_speaks_times_out_within_the_hard_stop(servers: Callable[..., Raw]) -> None:
    url = servers(hang).url.replace("http://", "https://")
    started = time.monotonic()
    r = VersionProber(0.3, allowed_hosts=LOOPBACK).read_all({"a": url, "b": url})
    assert time.monotonic() - started < 0.3 + HARD_STOP_GRACE_SECONDS + 3
    assert all(x.version is None for x in r.values())


def test_empty_mapping_and_more_slots_than_endpoints(servers: Callable[..., Raw]) -> None:
    prober = VersionProber(5.0, concurrency=1000, allowed_hosts=LOOPBACK)
    assert prober.read_all({}) == {}
    url = servers(replies(ok(b"3.1.4"))).url
    assert prober.read_all({"a": url, "b": url})["b"].version == "3.1.4"


def test_an_exception_in_the_pool_never_escapes_and_frees_its_slot(
    servers: Callable[..., Raw], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks.adapters import version_probe

    real = version_probe.urls.address_refusal

    def boom(url: str, *args: object) -> str | None:
        if "boom" in url:
            raise RuntimeError("bug")
        return real(url, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(version_probe.urls, "address_refusal", boom)
    good = servers(replies(ok(b"4.0.0"))).url
    prober = VersionProber(2.0, concurrency=1, allowed_hosts=LOOPBACK)
    readings = prober.read_all({"bad": good + "?boom", "good": good})
    assert readings["good"].version == "4.0.0"
    assert readings["bad"].version is None
