"""What a handler needs from its Lambda environment, built once per cold start."""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from tasks.adapters.autoscaling import AutoScaling
from tasks.adapters.cloudwatch import CloudWatch
from tasks.adapters.ec2 import Ec2
from tasks.adapters.elbv2 import LoadBalancing
from tasks.adapters.events import Events
from tasks.adapters.fleet_reader import FleetReader
from tasks.adapters.ssm import Parameters
from tasks.adapters.stepfunctions import StepFunctions
from tasks.adapters.version_probe import DEFAULT_CONCURRENCY, VersionProber
from tasks.domain import alarms
from tasks.domain.artifacts import DEFAULT_KEY_PATTERN
from tasks.errors import AwsRequestError, AwsThrottledError, AwsUnavailableError, InvalidStepOutputError

if TYPE_CHECKING:
    from collections.abc import Mapping

# botocore retries a little; the state machine's Retry (with backoff and jitter) does the rest,
# visibly, in the execution history.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=20)

logger = logging.getLogger("asg_terminator")


@dataclass(frozen=True)
class Settings:
    probe_concurrency: int = DEFAULT_CONCURRENCY
    log_level: str = "INFO"
    artifact_key_pattern: str = DEFAULT_KEY_PATTERN
    # Execution input fields for releases started by an event (S3 upload, schedule), e.g.
    # {"version_url": "http://{PrivateIpAddress}:8080/version", "min_healthy_percent": 50}.
    release_defaults: dict[str, object] = field(default_factory=dict)
    state_machine_arn: str = ""  # StartRelease's target
    lock_settle_seconds: float = 1.0  # LockAsg: write, wait this long, read back

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        return cls(
            probe_concurrency=int(environ.get("PROBE_CONCURRENCY", DEFAULT_CONCURRENCY)),
            log_level=environ.get("LOG_LEVEL", "INFO"),
            artifact_key_pattern=environ.get("ARTIFACT_KEY_PATTERN") or DEFAULT_KEY_PATTERN,
            release_defaults=json.loads(environ.get("RELEASE_DEFAULTS") or "{}"),
            state_machine_arn=environ.get("STATE_MACHINE_ARN", ""),
            lock_settle_seconds=float(environ.get("LOCK_SETTLE_SECONDS", "1.0")),
        )


@functools.cache
def settings() -> Settings:
    loaded = Settings.from_env(os.environ)
    logger.setLevel(loaded.log_level)
    return loaded


@functools.cache
def autoscaling() -> AutoScaling:
    return AutoScaling(boto3.client("autoscaling", config=_CLIENT_CONFIG))


@functools.cache
def fleet_reader() -> FleetReader:
    return FleetReader(autoscaling(), Ec2(boto3.client("ec2", config=_CLIENT_CONFIG)), load_balancing())


@functools.cache
def load_balancing() -> LoadBalancing:
    return LoadBalancing(boto3.client("elbv2", config=_CLIENT_CONFIG))


@functools.cache
def stepfunctions() -> StepFunctions:
    return StepFunctions(boto3.client("stepfunctions", config=_CLIENT_CONFIG))


@functools.cache
def parameters() -> Parameters:
    return Parameters(boto3.client("ssm", config=_CLIENT_CONFIG))


@functools.cache
def cloudwatch() -> CloudWatch:
    return CloudWatch(boto3.client("cloudwatch", config=_CLIENT_CONFIG))


def check_alarms(asg_name: str, names: list[str], outcome: str) -> None:
    """Raise AlarmTriggeredError (or AlarmNotFoundError) when a watched alarm forbids going on."""
    if names:
        alarms.check(asg_name, names, cloudwatch().alarm_states(names), outcome)


@functools.cache
def events() -> Events:
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
    return VersionProber(timeout_seconds, concurrency=settings().probe_concurrency)


def sleep(seconds: float) -> None:
    time.sleep(seconds)


def now() -> datetime:
    return datetime.now(UTC)
