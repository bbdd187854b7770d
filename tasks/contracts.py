"""Load the step schemas and check every step's input and output against them (JSON Schema 2020-12)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from tasks.errors import InvalidStepInputError, InvalidStepOutputError

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

SCHEMA_URN = "urn:asg-terminator:schemas:"
MAX_REPORTED = 5

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@functools.cache
def _registry() -> Registry:
    registry: Registry = Registry()
    for path in resources.files("tasks").joinpath("schemas").iterdir():
        if path.name.endswith(".json"):
            contents = json.loads(path.read_text(encoding="utf-8"))
            registry = registry.with_resource(contents["$id"], Resource.from_contents(contents))
    return registry


@functools.cache
def schema(name: str) -> dict[str, Any]:
    """A schema by name, e.g. ``select_batch.input``."""
    contents: dict[str, Any] = _registry().contents(SCHEMA_URN + name)
    return contents


def defaults(name: str) -> dict[str, Any]:
    """Each optional property's ``default`` from a schema: the one place defaults are written."""
    properties = schema(name).get("properties", {})
    return {key: spec["default"] for key, spec in properties.items() if "default" in spec}


def settings(record: dict[str, Any]) -> dict[str, Any]:
    """A settings record (common.json ``$defs/settings``) with every field at its value: those an
    execution started before an update lacks (added since) at the execution input's default."""
    return {**defaults("validate_input.input"), **record}


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name), registry=_registry())


def _field(error: ValidationError) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return path.lstrip(".") or "(root)"


def describe(error: ValidationError) -> str:
    """One line that names the field and the rule it breaks."""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        unknown = sorted(k for k in error.instance if k not in allowed)
        where = "" if _field(error) == "(root)" else f"{_field(error)}."
        return "; ".join(f"{where}{k}: unknown field (allowed: {', '.join(allowed)})" for k in unknown)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        where = "" if _field(error) == "(root)" else f"{_field(error)}."
        return f"{where}{missing}: required field is missing"
    if error.validator == "oneOf" and error.context:
        # A nullable field: report the branch that fits the value's type best.
        return describe(_narrowest(error))
    shown = error.message if len(error.message) <= 200 else error.message[:200] + "..."
    return f"{_field(error)}: {shown}"


def _narrowest(error: ValidationError) -> ValidationError:
    return max(error.context or [error], key=lambda e: (e.validator != "type", len(e.relative_path)))


def problems(name: str, document: Any) -> list[str]:
    errors = sorted(_validator(name).iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    return [describe(e) for e in errors[:MAX_REPORTED]]


def check(name: str, document: Any, error: type[Exception], what: str) -> None:
    found = problems(name, document)
    if found:
        raise error(f"{what}: " + "; ".join(found))


def step(name: str, input_error: type[Exception] = InvalidStepInputError) -> Callable[[Handler], Handler]:
    """Wrap a handler so its event and its result are checked against ``<name>.input/.output``."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def checked(event: dict[str, Any], context: Any) -> dict[str, Any]:
            check(f"{name}.input", event, input_error, f"{name} input")
            result = handler(event, context)
            check(f"{name}.output", result, InvalidStepOutputError, f"{name} output")
            return result

        return checked

    return wrap
