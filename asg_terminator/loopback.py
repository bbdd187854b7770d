"""Loopback only: refuse, in this process, every socket connection beyond 127.0.0.0/8 and ::1; and
serve HTTP on 127.0.0.1 alone.

The test suite turns the guard on for every test and the benchmarks for every run: moto gives
instances 10.x addresses, and a connection to one would reach whatever network the machine sits on.
Every HTTP server of the tool, its tests and its benchmarks (the fleet simulator, the Lambda Invoke
server, the test endpoints) is a ``LoopbackServer``: none can listen beyond this machine.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from collections.abc import Callable

HOST = "127.0.0.1"


class NonLoopbackConnectionError(ConnectionRefusedError):
    pass


def is_loopback(address: object) -> bool:
    """A socket address on this machine (a Unix socket, or an IP in 127.0.0.0/8 or ::1)."""
    if not isinstance(address, tuple):
        return True
    host = str(address[0])
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def guard(who: str) -> tuple[list[Any], Callable[[], None]]:
    """Refuse non-loopback connections from now on; returns the list of refused addresses and a
    function that lifts the guard."""
    refused: list[Any] = []
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(address: Any) -> None:
        if not is_loopback(address):
            refused.append(address)
            raise NonLoopbackConnectionError(f"{who} connect to loopback only, not {address!r}")

    def guarded_connect(self: socket.socket, address: Any) -> None:
        check(address)
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return connect_ex(self, address)

    def lift() -> None:
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]

    socket.socket.connect = guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign,assignment]
    return refused, lift


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing: http.server writes a line to stderr for every request,
    and a fleet of probes is thousands of them."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        return


class _ThreadingServer(ThreadingHTTPServer):
    # A request still being answered (a hanging endpoint) never holds up stop().
    daemon_threads = True
    # A whole fleet is probed at once (128 to 1,000 connections): with the default listen backlog of 5
    # the kernel drops SYNs, and the retransmit after 1 s turns into probe timeouts.
    request_queue_size = 1024


class LoopbackServer:
    """An HTTP server on 127.0.0.1 (port 0: a free one the kernel picks), one thread per request,
    serving in a daemon thread from ``start`` to ``stop``; a context manager."""

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], port: int = 0, *, host: str = HOST, name: str = "loopback"
    ) -> None:
        if host != HOST:
            raise ValueError(f"a loopback server listens on {HOST} only, not {host!r}")
        self._httpd = _ThreadingServer((host, port), handler)
        # A short poll: stop() waits for serve_forever to notice the shutdown.
        self._serving = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> Self:
        self._serving.start()
        return self

    def stop(self) -> None:
        if self._serving.ident is not None:  # shutdown() waits for serve_forever, forever if it never ran
            self._httpd.shutdown()
            self._serving.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
