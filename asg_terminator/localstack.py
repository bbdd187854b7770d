"""The local stack: an AWS-compatible endpoint on 127.0.0.1 in which releases really run.

One process holds three things:
- moto's server (``ThreadedMotoServer``) answering any SDK on the port, with Step Functions
  execution on;
- ``mock_aws`` active in this same process, so that the backends are shared and moto's
  interpreter calls Lambda through a botocore client that honours ``AWS_ENDPOINT_URL_LAMBDA``
  (in plain server mode it would call moto's own Docker-based Lambda);
- our Lambda Invoke server on loopback, where that variable points, running the real handlers,
  whose own boto3 calls land in the same moto backends.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from typing import Any

import boto3
from moto import mock_aws
from moto.server import ThreadedMotoServer

from asg_terminator import stack
from asg_terminator.lambda_server import LambdaInvokeServer, function_name, substitutions
from asg_terminator.paths import ROOT
from tasks import runtime
from tasks.handlers import FUNCTIONS, module_name

REGION = "us-east-1"
DEFAULT_PORT = 4566
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass(frozen=True)
class Endpoint:
    url: str
    region: str
    state_machine_arn: str

    def client(self, service: str, url: str | None = None) -> Any:
        make: Any = boto3.client  # any service by name: the stubs type only literal names
        return make(
            service,
            endpoint_url=url or self.url,
            region_name=self.region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


def _code_zip() -> bytes:
    """The tasks package as Lambda would receive it (the local functions' registered code)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((ROOT / "tasks").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(ROOT).as_posix())
    return buffer.getvalue()


class LocalStack:
    def __init__(
        self, port: int = DEFAULT_PORT, region: str = REGION, release_defaults: dict[str, Any] | None = None
    ) -> None:
        self.port = port
        self.region = region
        self.release_defaults = release_defaults or {}
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._lambdas = LambdaInvokeServer()
        self._server: ThreadedMotoServer | None = None
        self._saved_env: dict[str, str | None] = {}
        self.endpoint: Endpoint | None = None

    def start(self) -> Endpoint:
        self._set_env({**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": self.region})
        self._mock.start()
        self._lambdas.start()
        self._set_env({"AWS_ENDPOINT_URL_LAMBDA": self._lambdas.url})
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.port = port
        url = f"http://{host}:{port}"
        self._create_functions(Endpoint(url, self.region, "").client("lambda"))
        arn = stack.create_release_state_machine(
            Endpoint(url, self.region, "").client("stepfunctions"), substitutions(self.region)
        )
        self.endpoint = Endpoint(url, self.region, arn)
        self.start_functions_env()
        return self.endpoint

    def start_functions_env(self) -> None:
        """The functions' environment, as the SAM template sets it (the handlers run in this process)."""
        assert self.endpoint is not None, "start() first"
        self._set_env(
            {
                "STATE_MACHINE_ARN": self.endpoint.state_machine_arn,
                "RELEASE_DEFAULTS": json.dumps(self.release_defaults),
            }
        )
        runtime.settings.cache_clear()

    @property
    def lambda_url(self) -> str:
        """The Lambda Invoke endpoint where the functions run (for ``lambda invoke``)."""
        return self._lambdas.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        self._lambdas.stop()
        self._mock.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        runtime.settings.cache_clear()

    def __enter__(self) -> Endpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _create_functions(self, lambda_client: Any) -> None:
        iam = boto3.client("iam", region_name=self.region)
        role = iam.create_role(RoleName="asg-terminator-tasks", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        code = _code_zip()
        for step in FUNCTIONS:
            lambda_client.create_function(
                FunctionName=function_name(step),
                Runtime="python3.12",
                Role=role,
                Handler=f"tasks.handlers.{module_name(step)}.handler",
                Code={"ZipFile": code},
                Timeout=60,
            )
