"""A loopback server speaking the Lambda Invoke API, running our real task handlers in process.

Step Functions interpreters call ``POST /2015-03-31/functions/{name}/invocations`` (moto's when
``AWS_ENDPOINT_URL_LAMBDA`` points here; Step Functions Local through its ``LAMBDA_ENDPOINT``).
A handler's exception becomes what Lambda returns for an unhandled error: HTTP 200, header
``X-Amz-Function-Error: Unhandled`` and ``{"errorType", "errorMessage", "stackTrace"}``, so the
interpreter names the error after the exception class, exactly as in AWS.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from asg_terminator.loopback import LoopbackServer
from tasks.handlers import FUNCTIONS, STEPS, handler_for

FUNCTION_PREFIX = "asg-terminator-"
ACCOUNT = "123456789012"
_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")

log = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any], Any], Any]


def function_name(step: str) -> str:
    return FUNCTION_PREFIX + step


def function_arn(step: str, region: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:lambda:{region}:{account}:function:{function_name(step)}"


def substitutions(region: str, account: str = ACCOUNT) -> dict[str, str]:
    """The ASL's ``${StepFunctionArn}`` values for functions served here."""
    return {f"{step}FunctionArn": function_arn(step, region, account) for step in STEPS}


def default_handlers() -> dict[str, Handler]:
    return {function_name(name): handler_for(name) for name in FUNCTIONS}


@dataclass
class _Context:
    """The parts of Lambda's context object a handler may read."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 256

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _bare_name(raw: str) -> str:
    name = unquote(raw)
    if name.startswith("arn:"):
        name = name.split(":function:", 1)[-1]
    return name.split(":", 1)[0]  # drop a version or alias qualifier


class LambdaInvokeServer(LoopbackServer):
    def __init__(self, handlers: Mapping[str, Handler] | None = None, port: int = 0) -> None:
        self.handlers = dict(handlers if handlers is not None else default_handlers())
        self.invocations: list[str] = []
        self._lock = threading.Lock()
        super().__init__(self._request_handler(), port, name="lambda-invoke")

    @property
    def url(self) -> str:
        return self.base_url

    def invoke(self, name: str, payload: bytes) -> tuple[dict[str, str], bytes]:
        """Run the function; returns (extra headers, body) as Lambda's Invoke would."""
        handler = self.handlers[name]
        with self._lock:
            self.invocations.append(name)
        try:
            event = json.loads(payload or b"{}")
            result = handler(event, _Context(name))
        except Exception as e:  # the Lambda runtime's own contract: report, never crash the server
            log.debug("function %s failed", name, exc_info=True)
            error = {
                "errorType": type(e).__name__,
                "errorMessage": str(e),
                "stackTrace": traceback.format_tb(e.__traceback__),
            }
            return {"X-Amz-Function-Error": "Unhandled"}, json.dumps(error).encode()
        return {}, json.dumps(result).encode()

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                match = _PATH.match(self.path.split("?", 1)[0])
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length)
                name = _bare_name(match.group("name")) if match else ""
                if name not in server.handlers:
                    body = json.dumps({"Type": "User", "message": f"Function not found: {name or self.path}"}).encode()
                    self._reply(404, {"x-amzn-ErrorType": "ResourceNotFoundException"}, body)
                    return
                headers, body = server.invoke(name, payload)
                self._reply(200, {"X-Amz-Executed-Version": "$LATEST", **headers}, body)

            def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                log.debug(format, *args)

        return Handler
