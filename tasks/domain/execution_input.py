"""The execution input's rules beyond its JSON Schema: versions that parse, URLs that are URLs."""

from __future__ import annotations

from typing import Any

from tasks.domain import urls, versions
from tasks.errors import InvalidExecutionInputError


def settings_from_input(event: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Apply defaults to a schema-valid input; raise naming the field when a value cannot work."""
    settings = {**defaults, **{k: v for k, v in event.items() if k != "asg_names"}}
    problems = []
    target = settings["target_version"]
    if target is not None and not versions.is_version(target):
        problems.append(f"target_version: {target[:64]!r} is not a version (e.g. '1.0.274')")
    template_problem = urls.template_problem(settings["version_url"])
    if template_problem:
        problems.append(f"version_url: {template_problem}")
    if problems:
        raise InvalidExecutionInputError("execution input: " + "; ".join(problems))
    return {"asg_names": list(event["asg_names"]), "settings": settings}
