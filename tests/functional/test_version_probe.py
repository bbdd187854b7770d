"""VersionProber against real HTTP servers on loopback: every endpoint is untrusted."""

from __future__ import annotations

import gzip
import threading
import time
from typing import TYPE_CHECKING

import pytest

from tasks.adapters import version_probe
from tasks.adapters.version_probe import HARD_STOP_GRACE_SECONDS, Reading, VersionProber
from tests.functional.support import (
    Behaviour,
    Loopback,
    answer,
    closed_port,
    delayed,
    drip,
    redirect,
    silent_listener,
    stall_after_headers,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from http.server import BaseHTTPRequestHandler

TIMEOUT = 0.3
PATIENT_TIMEOUT = 10.0
LOOPBACK = ("127.0.0.1",)  # AllowedVersionHosts: these servers listen there

ROUTES = {
    "/plain": answer(200, b"1.0.274\n"),
    "/prefixed": answer(200, b"v1.0.274"),
    "/quoted": answer(200, b'"1.0.274"'),
    "/padded": answer(200, b"  \t1.0.274\r\n\r\n"),
    "/four-part": answer(200, b"1.0.274.1"),
    "/too-long": answer(200, b"1.0.274" + b".0" * 40),
    "/huge": answer(200, b"1" * (2 * 1024 * 1024)),
    "/just-over": answer(200, b"1" * 1025),
    "/garbage": answer(200, b"<html>It works!</html>"),
    "/long-garbage": answer(200, b"x" * 100),
    "/binary": answer(200, b"\xff\xfe\x00\x01"),
    "/empty": answer(200, b""),
    "/error": answer(500, b"1.0.274"),
    "/booting": answer(503, b"booting"),
    "/missing": answer(404, b"not found"),
    "/gzip": answer(200, gzip.compress(b"1.0.274\n"), {"Content-Encoding": "gzip"}),
    # 8 MB of zeros in a few KB: the cap applies to what the body expands to.
    "/gzip-bomb": answer(200, gzip.compress(b"0" * (8 * 1024 * 1024)), {"Content-Encoding": "gzip"}),
}


@pytest.fixture(scope="module")
def server() -> Iterator[Loopback]:
    with Loopback(ROUTES) as s:
        yield s


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[Loopback]:
    """Another host a redirect may point at: it must never be asked anything."""
    with Loopback(default=answer(200, b"9.9.9")) as s:
        yield s


@pytest.fixture
def prober() -> VersionProber:
    """For the tests about timeouts: a probe allowed 0.3 s."""
    return VersionProber(TIMEOUT, concurrency=8, allowed_hosts=LOOPBACK)


@pytest.fixture
def patient() -> VersionProber:
    """For every other test: a loaded CI machine may take longer than 0.3 s to answer on loopback, and
    a timeout there would hide the reading the test is about."""
    return VersionProber(PATIENT_TIMEOUT, concurrency=8, allowed_hosts=LOOPBACK)


@pytest.mark.parametrize(
    ("path", "version"),
    [
        ("/plain", "1.0.274"),
        ("/prefixed", "1.0.274"),
        ("/quoted", "1.0.274"),
        ("/padded", "1.0.274"),
        ("/four-part", "1.0.274.1"),
        ("/gzip", "1.0.274"),
    ],
)
def test_a_version_is_read_from_the_forms_servers_write_it_in(
    server: Loopback, patient: VersionProber, path: str, version: str
) -> None:
    assert patient.read(server.url(path)) == Reading(version, None)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/huge", "body over 1024 bytes"),
        ("/too-long", "not a version"),
        ("/just-over", "body over 1024 bytes"),
        ("/gzip-bomb", "body over 1024 bytes"),
        ("/garbage", "not a version"),  # the body itself is never shown
        ("/long-garbage", "not a version"),
        ("/binary", "not a version"),
        ("/empty", "not a version"),
        ("/error", "HTTP 500"),
        ("/booting", "HTTP 503"),
        ("/missing", "HTTP 404"),
    ],
)
def test_a_body_or_status_that_is_no_version_gives_its_reason(
    server: Loopback, patient: VersionProber, path: str, reason: str
) -> None:
    assert patient.read(server.url(path)) == Reading(None, reason)


def test_a_two_megabyte_body_is_cut_off_well_within_the_timeout(server: Loopback) -> None:
    prober = VersionProber(5, allowed_hosts=LOOPBACK)
    started = time.monotonic()
    assert prober.read(server.url("/huge")) == Reading(None, "body over 1024 bytes")
    assert time.monotonic() - started < 2


REDIRECTS = [301, 302, 303, 307, 308]


@pytest.mark.parametrize("status", REDIRECTS)
def test_a_redirect_to_another_host_is_never_followed(elsewhere: Loopback, patient: VersionProber, status: int) -> None:
    with Loopback({"/version": redirect(status, elsewhere.url("/version"))}) as server:
        reading = patient.read(server.url("/version"))
        assert server.requests == ["/version"]
    assert reading.version is None
    assert elsewhere.requests == []


@pytest.mark.parametrize("status", REDIRECTS)
def test_a_redirect_is_reported_as_not_followed(elsewhere: Loopback, patient: VersionProber, status: int) -> None:
    with Loopback({"/version": redirect(status, elsewhere.url("/version"))}) as server:
        reading = patient.read(server.url("/version"))
    assert reading == Reading(None, f"redirect (HTTP {status}) not followed")
    assert elsewhere.requests == []


def test_a_server_that_never_answers_times_out(prober: VersionProber) -> None:
    with silent_listener() as port:
        started = time.monotonic()
        reading = prober.read(f"http://127.0.0.1:{port}/version")
        elapsed = time.monotonic() - started
    assert reading == Reading(None, "timeout after 0.3 s")
    assert elapsed < TIMEOUT + 1


def test_a_server_slower_than_the_timeout_times_out(prober: VersionProber) -> None:
    with Loopback({"/version": delayed(1.5, answer(200, b"1.0.274"))}) as server:
        started = time.monotonic()
        reading = prober.read(server.url("/version"))
        elapsed = time.monotonic() - started
    assert reading == Reading(None, "timeout after 0.3 s")
    assert elapsed < TIMEOUT + 1


def test_a_closed_port_is_connection_refused(prober: VersionProber) -> None:
    started = time.monotonic()
    assert prober.read(f"http://127.0.0.1:{closed_port()}/version") == Reading(None, "connection refused")
    assert time.monotonic() - started < TIMEOUT + 1


def test_a_body_dripped_slower_than_the_timeout_is_not_trusted(prober: VersionProber) -> None:
    # The whole version arrives, one byte every 0.2 s: 1.6 s for a probe allowed 0.3 s.
    head = b"HTTP/1.0 200 OK\r\nContent-Length: 8\r\n\r\n"
    with Loopback({"/version": drip(b"1.0.274\n", every=0.2, at_most=2.0, head=head)}) as server:
        assert prober.read(server.url("/version")) == Reading(None, "timeout after 0.3 s")


def test_a_slow_drip_body_ends_within_about_twice_the_timeout(prober: VersionProber) -> None:
    head = b"HTTP/1.0 200 OK\r\nContent-Length: 1000\r\n\r\n"
    with Loopback({"/version": drip(b"1" * 1000, every=0.2, at_most=1.5, head=head)}) as server:
        started = time.monotonic()
        reading = prober.read(server.url("/version"))
        elapsed = time.monotonic() - started
    assert reading == Reading(None, "timeout after 0.3 s")
    assert elapsed < 2 * TIMEOUT + 0.5  # the drip alone would last 1.5 s


def test_slowly_dripped_headers_are_cut_off_by_the_hard_stop(prober: VersionProber) -> None:
    """Per-read socket timeouts never fire on headers dripped faster than the timeout; read_all's
    hard stop (timeout + grace for one wave) reports the probe as a timeout and moves on."""
    raw = b"HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\n1.0.274"
    with Loopback({"/version": drip(raw, every=0.2, at_most=3.0)}) as server:
        started = time.monotonic()
        readings = prober.read_all({"i-1": server.url("/version")})
        elapsed = time.monotonic() - started
    assert readings == {"i-1": Reading(None, "timeout after 0.3 s")}
    assert elapsed <= TIMEOUT + HARD_STOP_GRACE_SECONDS + 0.3


def test_a_body_that_stalls_after_the_headers_is_a_timeout(prober: VersionProber) -> None:
    with Loopback({"/version": stall_after_headers(2.0)}) as server:
        started = time.monotonic()
        reading = prober.read(server.url("/version"))
        elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + 1
    assert reading == Reading(None, "timeout after 0.3 s")


def test_proxies_from_the_environment_are_ignored(monkeypatch: pytest.MonkeyPatch, server: Loopback) -> None:
    with Loopback(default=answer(200, b"6.6.6")) as proxy:
        for key in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(key, raising=False)
        for key in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(key, proxy.url(""))
        reading = VersionProber(PATIENT_TIMEOUT, allowed_hosts=LOOPBACK).read(server.url("/plain"))
        assert proxy.requests == []
    assert reading == Reading("1.0.274", None)


def test_read_all_gives_one_reading_per_id_and_never_raises(server: Loopback, patient: VersionProber) -> None:
    refused = f"http://127.0.0.1:{closed_port()}/version"
    readings = patient.read_all(
        {
            "i-0aaa": server.url("/plain"),
            "i-0bbb": server.url("/error"),
            "i-0ccc": refused,
            "i-0ddd": server.url("/quoted"),
        }
    )
    assert readings == {
        "i-0aaa": Reading("1.0.274", None),
        "i-0bbb": Reading(None, "HTTP 500"),
        "i-0ccc": Reading(None, "connection refused"),
        "i-0ddd": Reading("1.0.274", None),
    }


def test_read_all_of_nothing_is_nothing(patient: VersionProber) -> None:
    assert patient.read_all({}) == {}


def test_read_all_reads_200_slow_instances_concurrently_and_keeps_each_answer_with_its_id() -> None:
    # Each instance answers its own version after 0.2 s; sequentially this would take 40 s, which
    # the suite's time budget would not allow, so finishing at all shows the reads ran concurrently.
    routes = {f"/i-{n:04d}/version": delayed(0.2, answer(200, f"1.0.{n}\n".encode())) for n in range(200)}
    with Loopback(routes) as server:
        urls = {f"i-{n:04d}": server.url(f"/i-{n:04d}/version") for n in range(200)}
        readings = VersionProber(5, allowed_hosts=LOOPBACK).read_all(urls)
        assert sorted(server.requests) == sorted(routes)
    assert readings == {f"i-{n:04d}": Reading(f"1.0.{n}", None) for n in range(200)}


def test_headers_dripped_to_a_single_read_are_cut_at_its_deadline(prober: VersionProber) -> None:
    """The connection is shut down at the probe's deadline, so the thread reading the headers lets go
    then rather than at the whole read's hard stop."""
    raw = b"HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\n1.0.274"
    with Loopback({"/version": drip(raw, every=0.05, at_most=3.0)}) as server:
        started = time.monotonic()
        reading = prober.read(server.url("/version"))
        elapsed = time.monotonic() - started
    assert reading == Reading(None, "timeout after 0.3 s")
    assert elapsed < TIMEOUT + HARD_STOP_GRACE_SECONDS / 2


def test_a_probe_past_its_deadline_frees_its_slot_for_the_next() -> None:
    # One probe at a time: the hanging one's timeout lets the others through, long before the hard stop.
    routes = {"/hang": delayed(10, answer(200, b"9.9.9")), "/ok": answer(200, b"1.0.274\n")}
    with Loopback(routes) as server:
        urls = {"i-0": server.url("/hang"), "i-1": server.url("/ok"), "i-2": server.url("/ok")}
        started = time.monotonic()
        readings = VersionProber(1.0, concurrency=1, allowed_hosts=LOOPBACK).read_all(urls)
        elapsed = time.monotonic() - started
    assert readings == {
        "i-0": Reading(None, "timeout after 1 s"),
        "i-1": Reading("1.0.274", None),
        "i-2": Reading("1.0.274", None),
    }
    assert elapsed < 3 * 1.0 + HARD_STOP_GRACE_SECONDS  # the hard stop of 3 probes in turn


def _counting(then: Behaviour, active: list[int], lock: threading.Lock) -> Behaviour:
    """Wait 0.2 s, then ``then``, counting the requests waiting at once: active[0] now, active[1] the
    most (not counting the answer's writing, which the client may see end before the server does)."""

    def behave(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
        with lock:
            active[0] += 1
            active[1] = max(active[1], active[0])
        stop.wait(0.2)
        with lock:
            active[0] -= 1
        then(handler, stop)

    return behave


@pytest.mark.parametrize(("endpoints", "concurrency"), [(5, 64), (24, 4)])
def test_at_most_concurrency_probes_in_flight_and_one_thread_per_endpoint(
    monkeypatch: pytest.MonkeyPatch, endpoints: int, concurrency: int
) -> None:
    pools: list[int] = []

    class Recorded(version_probe.ThreadPoolExecutor):
        def __init__(self, max_workers: int, thread_name_prefix: str) -> None:
            pools.append(max_workers)
            super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)

    monkeypatch.setattr(version_probe, "ThreadPoolExecutor", Recorded)
    active, lock = [0, 0], threading.Lock()
    slow = _counting(answer(200, b"1.0.274"), active, lock)
    with Loopback(default=slow) as server:
        urls = {f"i-{n}": server.url(f"/{n}/version") for n in range(endpoints)}
        readings = VersionProber(PATIENT_TIMEOUT, concurrency=concurrency, allowed_hosts=LOOPBACK).read_all(urls)
    assert readings == dict.fromkeys(urls, Reading("1.0.274", None))
    assert pools == [min(endpoints, concurrency)]
    assert active[1] <= min(endpoints, concurrency)


def test_hanging_endpoints_do_not_hold_back_the_others() -> None:
    # A third never answers, fewer slots than endpoints: the answers still come within the timeout
    # of the read's start plus the time to send them all, the hanging ones time out on their own.
    routes = {f"/{n}/version": answer(200, b"1.0.274") for n in range(0, 30, 3)}
    with Loopback(routes, default=delayed(10, answer(200, b"9.9.9"))) as server:
        urls = {f"i-{n}": server.url(f"/{n}/version") for n in range(30)}
        readings = VersionProber(1.0, concurrency=25, allowed_hosts=LOOPBACK).read_all(urls)
    assert readings == {
        f"i-{n}": Reading("1.0.274", None) if n % 3 == 0 else Reading(None, "timeout after 1 s") for n in range(30)
    }
