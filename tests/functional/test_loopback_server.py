"""The one HTTP server base every loopback server uses (asg_terminator.loopback.LoopbackServer)."""

from __future__ import annotations

import http.client
import threading

import pytest

from asg_terminator.loopback import LoopbackServer, QuietHandler


class _Hello(QuietHandler):
    def do_GET(self) -> None:
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _get(port: int) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("host", ["0.0.0.0", "", "localhost", "10.0.0.1", "::1"])
def test_a_server_listens_on_127_0_0_1_only(host: str) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1 only"):
        LoopbackServer(_Hello, host=host)


def test_a_server_answers_on_a_free_port_until_it_stops() -> None:
    with LoopbackServer(_Hello, name="hello") as server:
        assert server.port > 0
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert _get(server.port) == (200, b"hello")
        assert any(t.name == "hello" for t in threading.enumerate())
    assert not any(t.name == "hello" for t in threading.enumerate())
    with pytest.raises(ConnectionRefusedError):
        _get(server.port)


def test_a_server_never_started_stops_at_once() -> None:
    server = LoopbackServer(_Hello)
    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    stopper.join(timeout=2)
    assert not stopper.is_alive()
