"""What a handler needs from its Lambda environment, built once per cold start."""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import boto3
from botocore.config import Config

from tasks.adapters.autoscaling import AutoScaling
from tasks.adapters.cloudwatch import CloudWatch
from tasks.adapters.ec2 import Ec2
from tasks.adapters.elbv2 import LoadBalancing
from tasks.adapters.events import Events
from tasks.adapters.fleet_reader import FleetReader, read_versions
from tasks.adapters.leases import Leases, UploadClaims
from tasks.adapters.s3 import ArtifactStore, FleetRecords
from tasks.adapters.ssm import Parameters
from tasks.adapters.stepfunctions import StepFunctions
from tasks.adapters.version_probe import DEFAULT_CONCURRENCY, VersionProber
from tasks.domain import alarms, artifacts, urls
from tasks.domain.artifacts import DEFAULT_KEY_PATTERN
from tasks.domain.events import UPLOAD_WINDOW_SECONDS
from tasks.errors import (
    AwsRequestError,
    AwsThrottledError,
    AwsUnavailableError,
    InvalidSettingsError,
    InvalidStepOutputError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tasks.domain.fleet import Fleet

# botocore retries a little; the state machine's Retry (with backoff and jitter) does the rest,
# visibly, in the execution history.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=20)

logger = logging.getLogger("asg_terminator")


@dataclass(frozen=True)
class Settings:
    probe_concurrency: int = DEFAULT_CONCURRENCY
    log_level: str = "INFO"
    artifact_key_pattern: str = DEFAULT_KEY_PATTERN
    artifact_bucket: str = ""  # where builds are uploaded: a sweep's targets come from here
    # Execution input fields for releases started by an event (S3 upload, schedule), e.g.
    # {"version_url": "http://{PrivateIpAddress}:8080/version", "min_healthy_percent": 50}.
    release_defaults: dict[str, object] = field(default_factory=dict)
    state_machine_arn: str = ""  # StartRelease's target
    lease_table: str = ""  # the DynamoDB table of ASG leases (tasks/domain/lease.py)
    fleet_bucket: str = ""  # the stack's bucket where each read of a fleet is stored (tasks/adapters/s3.py)
    probe_loopback_only: bool = False  # the local stack: probe 127.0.0.0/8 and ::1 only
    # AllowedVersionHosts: the literal hosts a version URL may name besides the instance's address
    allowed_version_hosts: tuple[str, ...] = ()
    # EventBusName: the one bus an execution's event_bus_name may name (the functions' roles put events there only)
    event_bus_name: str = "default"
    upload_window_seconds: float = UPLOAD_WINDOW_SECONDS  # files of one upload: one release
    # How long a step of an ended execution may still be running (Lambda runs to its end after a
    # stop): more than the functions' 60 s timeout. Until then its leases are neither taken nor undone.
    in_flight_seconds: float = 70.0
    # How long a read of desired capacity may lag the release's own change of it (DescribeAutoScalingGroups
    # is eventually consistent): letting go reads it again until then before it takes a disagreeing
    # number for someone else's change. Within UnlockAsg's 60 s timeout.
    capacity_lag_seconds: float = 30.0

    def __post_init__(self) -> None:
        # Here, so the first invocation after a cold start fails by name (every one does, before
        # any AWS call), rather than each upload later naming no build.
        problem = artifacts.key_pattern_problem(self.artifact_key_pattern)
        if problem:
            raise InvalidSettingsError(
                f"ArtifactKeyPattern (ARTIFACT_KEY_PATTERN) {self.artifact_key_pattern!r} {problem}: it must be "
                f"a regular expression with the named groups app and version, e.g. {DEFAULT_KEY_PATTERN}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        return cls(
            probe_concurrency=int(environ.get("PROBE_CONCURRENCY", DEFAULT_CONCURRENCY)),
            log_level=environ.get("LOG_LEVEL", "INFO"),
            artifact_key_pattern=environ.get("ARTIFACT_KEY_PATTERN") or DEFAULT_KEY_PATTERN,
            artifact_bucket=environ.get("ARTIFACT_BUCKET", ""),
            release_defaults=json.loads(environ.get("RELEASE_DEFAULTS") or "{}"),
            state_machine_arn=environ.get("STATE_MACHINE_ARN", ""),
            lease_table=environ.get("LEASE_TABLE", ""),
            fleet_bucket=environ.get("FLEET_BUCKET", ""),
            probe_loopback_only=environ.get("PROBE_LOOPBACK_ONLY", "").lower() == "true",
            allowed_version_hosts=urls.parse_hosts(environ.get("ALLOWED_VERSION_HOSTS", "")),
            event_bus_name=environ.get("EVENT_BUS_NAME") or "default",
            upload_window_seconds=float(environ.get("UPLOAD_WINDOW_SECONDS", UPLOAD_WINDOW_SECONDS)),
            in_flight_seconds=float(environ.get("IN_FLIGHT_SECONDS", "70")),
            capacity_lag_seconds=float(environ.get("CAPACITY_LAG_SECONDS", "30")),
        )


@functools.cache
def _env_settings() -> Settings:
    loaded = Settings.from_env(os.environ)
    logger.setLevel(loaded.log_level)
    return loaded


class Installed(Protocol):
    """Everything the handlers reach through this module, from somewhere other than AWS: the
    deterministic simulation (asg_terminator/simulation) installs one, with its virtual clock."""

    @property
    def settings(self) -> Settings: ...
    @property
    def autoscaling(self) -> AutoScaling: ...
    @property
    def fleet_reader(self) -> FleetReader: ...
    @property
    def leases(self) -> Leases: ...
    @property
    def load_balancing(self) -> LoadBalancing: ...
    @property
    def stepfunctions(self) -> StepFunctions: ...
    @property
    def parameters(self) -> Parameters: ...
    @property
    def cloudwatch(self) -> CloudWatch: ...
    @property
    def events(self) -> Events: ...
    @property
    def fleet_records(self) -> FleetRecords: ...
    def prober(self, timeout_seconds: float) -> VersionProber: ...
    def sleep(self, seconds: float) -> None: ...
    def epoch(self) -> float: ...


class _Seam:
    installed: Installed | None = None


def install(installed: Installed | None) -> None:
    """Answer every adapter, the settings and the clock from ``installed``; None: AWS and the real
    clock again (the default, and all a Lambda ever sees)."""
    _Seam.installed = installed


class _Settings:
    """``settings()``: read from the environment once per cold start (``settings.cache_clear()``
    starts a new one), or the installed set's."""

    def __call__(self) -> Settings:
        return _env_settings() if _Seam.installed is None else _Seam.installed.settings

    def cache_clear(self) -> None:
        _env_settings.cache_clear()


settings = _Settings()


def autoscaling() -> AutoScaling:
    return _aws_autoscaling() if _Seam.installed is None else _Seam.installed.autoscaling


@functools.cache
def _aws_autoscaling() -> AutoScaling:
    return AutoScaling(boto3.client("autoscaling", config=_CLIENT_CONFIG))


def fleet_reader() -> FleetReader:
    return _aws_fleet_reader() if _Seam.installed is None else _Seam.installed.fleet_reader


@functools.cache
def _aws_fleet_reader() -> FleetReader:
    return FleetReader(_aws_autoscaling(), Ec2(boto3.client("ec2", config=_CLIENT_CONFIG)), _aws_load_balancing())


def _lease_table() -> str:
    table = settings().lease_table
    if not table:
        raise AwsRequestError(
            "LEASE_TABLE is not set: the functions need the stack's lease table (infra/template.yaml)"
        )
    return table


def leases() -> Leases:
    return _aws_leases() if _Seam.installed is None else _Seam.installed.leases


@functools.cache
def _aws_leases() -> Leases:
    return Leases(boto3.client("dynamodb", config=_CLIENT_CONFIG), _lease_table())


@functools.cache
def upload_claims() -> UploadClaims:
    return UploadClaims(boto3.client("dynamodb", config=_CLIENT_CONFIG), _lease_table())


def load_balancing() -> LoadBalancing:
    return _aws_load_balancing() if _Seam.installed is None else _Seam.installed.load_balancing


@functools.cache
def _aws_load_balancing() -> LoadBalancing:
    return LoadBalancing(boto3.client("elbv2", config=_CLIENT_CONFIG))


def stepfunctions() -> StepFunctions:
    return _aws_stepfunctions() if _Seam.installed is None else _Seam.installed.stepfunctions


@functools.cache
def _aws_stepfunctions() -> StepFunctions:
    return StepFunctions(boto3.client("stepfunctions", config=_CLIENT_CONFIG))


def parameters() -> Parameters:
    return _aws_parameters() if _Seam.installed is None else _Seam.installed.parameters


@functools.cache
def _aws_parameters() -> Parameters:
    return Parameters(boto3.client("ssm", config=_CLIENT_CONFIG))


@functools.cache
def artifact_store() -> ArtifactStore:
    return ArtifactStore(boto3.client("s3", config=_CLIENT_CONFIG))


def fleet_records() -> FleetRecords:
    return _aws_fleet_records() if _Seam.installed is None else _Seam.installed.fleet_records


@functools.cache
def _aws_fleet_records() -> FleetRecords:
    bucket = settings().fleet_bucket
    if not bucket:
        raise AwsRequestError(
            "FLEET_BUCKET is not set: the functions need the stack's fleet bucket (infra/template.yaml)"
        )
    return FleetRecords(boto3.client("s3", config=_CLIENT_CONFIG), bucket)


def cloudwatch() -> CloudWatch:
    return _aws_cloudwatch() if _Seam.installed is None else _Seam.installed.cloudwatch


@functools.cache
def _aws_cloudwatch() -> CloudWatch:
    return CloudWatch(boto3.client("cloudwatch", config=_CLIENT_CONFIG))


def check_alarms(asg_name: str, names: list[str], outcome: str) -> None:
    """Raise AlarmTriggeredError (or AlarmNotFoundError) when a watched alarm forbids going on."""
    if names:
        alarms.check(asg_name, names, cloudwatch().alarm_states(names), outcome)


def events() -> Events:
    return _aws_events() if _Seam.installed is None else _Seam.installed.events


@functools.cache
def _aws_events() -> Events:
    return Events(boto3.client("events", config=_CLIENT_CONFIG))


def notify(bus: str | None, event: tuple[str, dict[str, Any]], required: bool = False) -> None:
    """Send a release notification when the release asked for them (``event_bus_name``).

    A ``required`` one (the first, before anything is terminated) fails the step when the bus cannot
    take it, so a misconfigured bus stops the release early. Any later one that is lost is logged
    and never changes what the release does.
    """
    if bus is None:
        return
    try:
        events().send(bus, *event)
    except (AwsRequestError, AwsThrottledError, AwsUnavailableError, InvalidStepOutputError) as e:
        if required:
            raise
        logger.warning(f"notification {event[0]} not sent: {e}", extra={"event_bus_name": bus})


def prober(timeout_seconds: float) -> VersionProber:
    if _Seam.installed is not None:
        return _Seam.installed.prober(timeout_seconds)
    chosen = settings()
    return VersionProber(
        timeout_seconds,
        concurrency=chosen.probe_concurrency,
        loopback_only=chosen.probe_loopback_only,
        allowed_hosts=chosen.allowed_version_hosts,
    )


def read_fleet(asg_name: str, version_url: str, probe_timeout_seconds: float) -> tuple[Fleet, float]:
    """One whole read of an ASG's fleet in one function (CheckReplacement's; WatchBooting's after a
    watch), as Discover and ReadVersions make it in two: described, then every version probed (an
    instance that answered none keeps its URL). With how long it took."""
    started = epoch()
    fleet = read_versions(fleet_reader().discover(asg_name, version_url), prober(probe_timeout_seconds))
    return fleet, epoch() - started


def sleep(seconds: float) -> None:
    if _Seam.installed is None:
        time.sleep(seconds)
    else:
        _Seam.installed.sleep(seconds)


def now() -> datetime:
    return datetime.now(UTC) if _Seam.installed is None else datetime.fromtimestamp(_Seam.installed.epoch(), UTC)


def epoch() -> float:
    """Seconds since the epoch: the clock leases expire by."""
    return time.time() if _Seam.installed is None else _Seam.installed.epoch()


def cold_start() -> None:
    """Forget the settings and every client, as a new Lambda cold start would (tests, benchmarks)."""
    cached = (_env_settings, _aws_autoscaling, _aws_fleet_reader, _aws_leases, upload_claims, _aws_load_balancing)
    for each in (*cached, _aws_stepfunctions, _aws_parameters, artifact_store, _aws_fleet_records, _aws_cloudwatch):
        each.cache_clear()
    _aws_events.cache_clear()
