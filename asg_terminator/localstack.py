"""The local stack: an AWS-compatible endpoint on 127.0.0.1 in which releases really run.

One process holds four things:
- moto's server (``ThreadedMotoServer``) answering any SDK on the port, with Step Functions
  execution on;
- ``mock_aws`` active in this same process, so that the backends are shared and moto's
  interpreter calls Lambda through a botocore client that honours ``AWS_ENDPOINT_URL_LAMBDA``
  (in plain server mode it would call moto's own Docker-based Lambda);
- our Lambda Invoke server on loopback, where that variable points, running the real handlers,
  whose own boto3 calls land in the same moto backends;
- EventBridge's two rules, delivered in its place (see eventbridge.py): an upload to the
  artifacts bucket reaches ``StartRelease``, and an execution that ended unsuccessfully reaches
  ``Cleanup``, as they would in AWS.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from moto import mock_aws
from moto.server import ThreadedMotoServer

from asg_terminator import stack
from asg_terminator.deploy import code_zip
from asg_terminator.eventbridge import CLEANED_UP, RUNNING, StatusChangeDelivery, UploadDelivery
from asg_terminator.history import TERMINAL
from asg_terminator.lambda_server import ACCOUNT, LambdaInvokeServer, function_name, substitutions
from tasks import contracts, runtime
from tasks.domain import urls
from tasks.domain.execution_input import NOT_SETTINGS, settings_from_input
from tasks.domain.report import lambda_error_message
from tasks.errors import InvalidExecutionInputError
from tasks.handlers import FUNCTIONS, module_name

if TYPE_CHECKING:
    from collections.abc import Callable

REGION = "us-east-1"
DEFAULT_PORT = 4566
ARTIFACT_BUCKET = "asg-terminator-artifacts"
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


# moto's Step Functions interpreter logs each failed state (a Choice meeting a missing path, a task that
# failed) with its whole parse tree, thousands of characters; werkzeug logs its server's errors. The
# local stack quiets both (``debug`` keeps them) and says one line per execution event instead.
QUIETED = {"moto": logging.CRITICAL, "werkzeug": logging.ERROR}
MAX_LINE_CAUSE = 300  # characters of an ended execution's cause on its line; `history` shows it whole


def execution_line(event: dict[str, Any]) -> str:
    """One readable line for an execution's status change: it started (with what it releases), or
    it ended, with its status and error."""
    detail = event["detail"]
    name, status = detail["name"], detail["status"]
    if status == RUNNING:
        given = _json(detail.get("input"))
        asgs = ", ".join(str(a) for a in given.get("asg_names") or []) or "no ASGs"
        target = given.get("target_version") or "each ASG's highest version"
        return f"execution {name} started: {asgs} to {target}"
    if not detail.get("error"):
        return f"execution {name} ended {status}"
    cause = " ".join(lambda_error_message(detail.get("cause") or "").split())
    if len(cause) > MAX_LINE_CAUSE:
        cause = cause[: MAX_LINE_CAUSE - 1] + "…"
    return f"execution {name} ended {status}: {detail['error']}" + (f": {cause}" if cause else "")


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# AllowedVersionHosts on the local stack: the fleet simulator serves every instance on loopback.
VERSION_HOSTS = "127.0.0.1"


def check_release_defaults(defaults: Any) -> dict[str, Any]:
    """The ``ReleaseDefaults`` document (the execution input fields an event-started release takes),
    checked against the execution input's schema and rules; raises ValueError naming the field."""
    if not isinstance(defaults, dict):
        raise ValueError(f"release defaults: a JSON object of execution input fields, not {type(defaults).__name__}")
    named = [k for k in NOT_SETTINGS if k in defaults]
    if named:
        raise ValueError(f"release defaults: {named[0]}: not a default (an event names the ASGs)")
    document = {"asg_names": ["any"], **defaults}
    try:
        contracts.check("validate_input.input", document, InvalidExecutionInputError, "release defaults")
        settings_from_input(document, contracts.defaults("validate_input.input"), urls.parse_hosts(VERSION_HOSTS))
    except InvalidExecutionInputError as e:
        raise ValueError(str(e).replace("execution input: ", "")) from e
    return dict(defaults)


class LocalStack:
    def __init__(
        self,
        port: int = DEFAULT_PORT,
        region: str = REGION,
        release_defaults: dict[str, Any] | None = None,
        artifact_bucket: str = ARTIFACT_BUCKET,
        say: Callable[[str], None] | None = None,
        say_executions: bool = False,
        debug: bool = False,
    ) -> None:
        """``say``: where the stack's lines go; ``say_executions``: also a line when an execution of
        the release starts and when it ends (``execution_line``); ``debug``: moto's and werkzeug's
        own logging as they log (QUIETED otherwise)."""
        self.port = port
        self.region = region
        self.release_defaults = release_defaults or {}
        self.artifact_bucket = artifact_bucket
        self._say = say or (lambda _line: None)
        self._say_executions, self._debug = say_executions, debug
        self._saved_levels: dict[str, int] = {}
        self._deliveries: list[StatusChangeDelivery | UploadDelivery] = []
        self.started: list[dict[str, Any]] = []  # StartRelease's answers to the uploads delivered
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._lambdas = LambdaInvokeServer()
        self._server: ThreadedMotoServer | None = None
        self._saved_env: dict[str, str | None] = {}
        self.endpoint: Endpoint | None = None
        self.lease_table = stack.LEASE_TABLE
        self.fleet_bucket = stack.FLEET_BUCKET

    def start(self) -> Endpoint:
        if not self._debug:
            for name, level in QUIETED.items():
                self._saved_levels.setdefault(name, logging.getLogger(name).level)
                logging.getLogger(name).setLevel(level)
        self._set_env({**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": self.region})
        stack.make_moto_atomic()
        stack.make_moto_scale()  # thousands of instances (benchmarks/large_asg.py)
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
        self.lease_table = stack.create_lease_table(Endpoint(url, self.region, "").client("dynamodb"))
        self.fleet_bucket = stack.create_fleet_bucket(Endpoint(url, self.region, "").client("s3"))
        self.endpoint = Endpoint(url, self.region, arn)
        self.start_functions_env()
        s3 = self.endpoint.client("s3")
        if self.artifact_bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
            s3.create_bucket(Bucket=self.artifact_bucket)
        self._deliveries = [
            UploadDelivery(s3, self.artifact_bucket, self._start_release, self.region, ACCOUNT),
            StatusChangeDelivery(
                self.endpoint.client("stepfunctions"),
                arn,
                self._status_changed,
                self.region,
                ACCOUNT,
                statuses=(RUNNING, *TERMINAL) if self._say_executions else CLEANED_UP,
            ),
        ]
        for delivery in self._deliveries:
            delivery.start()
        return self.endpoint

    def _invoke(self, step: str, event: dict[str, Any]) -> dict[str, Any]:
        headers, body = self._lambdas.invoke(function_name(step), json.dumps(event).encode())
        answer: dict[str, Any] = json.loads(body)
        if headers.get("X-Amz-Function-Error"):
            self._say(f"{step} failed: {answer.get('errorType')}: {answer.get('errorMessage')}")
        return answer

    def _start_release(self, event: dict[str, Any]) -> None:
        """An upload's 'Object Created', as the stack's rule delivers it to StartRelease."""
        started = self._invoke("StartRelease", event)
        self.started.append(started)
        where = f"s3://{self.artifact_bucket}/{event['detail']['object']['key']}"
        if started.get("started"):
            said = f"started {started['execution_arn']}"
        else:
            said = f"started nothing: {started.get('skipped') or 'a duplicate delivery'}"
        self._say(f"upload {where}: 'Object Created' delivered to StartRelease (in EventBridge's place): {said}")

    def _status_changed(self, event: dict[str, Any]) -> None:
        """An execution started or ended: said (``say_executions``), then Cleanup's rule, as in AWS."""
        if self._say_executions:
            self._say(execution_line(event))
        if event["detail"]["status"] in CLEANED_UP:
            self._clean_up(event)

    def _clean_up(self, event: dict[str, Any]) -> None:
        """An execution that ended unsuccessfully, as the stack's rule delivers it to Cleanup."""
        done = self._invoke("Cleanup", event)
        detail = event["detail"]
        let_go = ", ".join(a["asg_name"] for a in done.get("asgs", [])) or "nothing held"
        self._say(
            f"execution {detail['name']} {detail['status']}: 'Step Functions Execution Status Change' delivered "
            f"to Cleanup (in EventBridge's place; moto sends none): {let_go}"
        )

    def start_functions_env(self) -> None:
        """The functions' environment, as the SAM template sets it (the handlers run in this process)."""
        assert self.endpoint is not None, "start() first"
        self._set_env(
            {
                "STATE_MACHINE_ARN": self.endpoint.state_machine_arn,
                "RELEASE_DEFAULTS": json.dumps(self.release_defaults),
                "LEASE_TABLE": self.lease_table,
                "FLEET_BUCKET": self.fleet_bucket,  # the claim checks: each read of a fleet, by key
                "ARTIFACT_BUCKET": self.artifact_bucket,  # a sweep's targets: the builds uploaded here
                "PROBE_LOOPBACK_ONLY": "true",  # whatever a release's version URL says
                "ALLOWED_VERSION_HOSTS": VERSION_HOSTS,  # the simulator's version URLs name it
                "IN_FLIGHT_SECONDS": "2",  # a step in flight here ends within it (the Lambda timeout in AWS)
                "CAPACITY_LAG_SECONDS": "1",  # moto's reads do not lag
            }
        )
        runtime.settings.cache_clear()

    @property
    def lambda_url(self) -> str:
        """The Lambda Invoke endpoint where the functions run (for ``lambda invoke``)."""
        return self._lambdas.url

    def stop(self) -> None:
        for delivery in self._deliveries:
            delivery.stop()
        if self._server is not None:
            self._server.stop()
        self._lambdas.stop()
        self._mock.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        for name, level in self._saved_levels.items():
            logging.getLogger(name).setLevel(level)
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
        code = code_zip(None)  # the tasks package as deploy uploads it, without its dependencies
        for step in FUNCTIONS:
            lambda_client.create_function(
                FunctionName=function_name(step),
                Runtime="python3.12",
                Role=role,
                Handler=f"tasks.handlers.{module_name(step)}.handler",
                Code={"ZipFile": code},
                Timeout=60,
            )
