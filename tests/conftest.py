"""Suite-wide settings: loopback only, for every test.

No test may connect anywhere but this machine: moto gives instances 10.x addresses, and a probe of
one would reach whatever network the machine sits on. Two guards, both always on:
- every function the tests run (in this process, or in a ``local up`` they start, which inherits
  the environment) probes loopback addresses only (``PROBE_LOOPBACK_ONLY``, as the local stack
  sets it), and refuses any other without connecting;
- every socket this process opens may connect to loopback only; a test that tries anything else
  fails, naming the address.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

os.environ["PROBE_LOOPBACK_ONLY"] = "true"

# moto's interpreter logs every failed state (which our failure scenarios cause on purpose) with
# its whole parse tree; what a test needs is in the execution history it asserts on.
logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)


def _loopback(address: object) -> bool:
    if not isinstance(address, tuple):
        return True  # a Unix socket
    host = str(address[0])
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Fail any test that tries to connect anywhere but loopback (moto's 10.x instances, AWS itself);
    yields the addresses refused, for a test that wants to show none was tried."""
    refused: list[object] = []
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if not _loopback(address):
            refused.append(address)
            raise ConnectionRefusedError(f"tests connect to loopback only, not {address!r}")
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        if not _loopback(address):
            refused.append(address)
            raise ConnectionRefusedError(f"tests connect to loopback only, not {address!r}")
        return connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    yield refused
    assert refused == [], f"a test tried to connect beyond loopback: {refused}"
