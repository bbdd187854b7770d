"""Loopback only: refuse, in this process, every socket connection beyond 127.0.0.0/8 and ::1.

The test suite turns it on for every test and the benchmarks for every run: moto gives instances
10.x addresses, and a connection to one would reach whatever network the machine sits on.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable


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
