"""ValidateInput: check the execution input against the public contract and apply its defaults."""

from __future__ import annotations

from typing import Any

from tasks import contracts
from tasks.domain.execution_input import settings_from_input
from tasks.errors import InvalidExecutionInputError
from tasks.runtime import logger, settings


@contracts.step("validate_input", input_error=InvalidExecutionInputError)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    defaults = contracts.defaults("validate_input.input")
    chosen = settings()
    release = settings_from_input(event, defaults, chosen.allowed_version_hosts, chosen.event_bus_name)
    logger.info("release requested", extra={"step": "ValidateInput", "asg_names": release["asg_names"]})
    return release
