"""canary_analysis in the execution input: the schema's defaults are the dataclasses' (written
twice, compared here field by field), and ValidateInput applies them so later steps read every field."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tasks import contracts
from tasks.domain.canary import CanaryAnalysis, CanaryMetric
from tasks.domain.execution_input import settings_from_input
from tasks.errors import InvalidExecutionInputError

LATENCY = {"namespace": "App", "metric_name": "Latency", "fails_when": "increase"}


def _defs() -> dict[str, Any]:
    defs: dict[str, Any] = contracts.schema("common")["$defs"]
    return defs


@pytest.mark.parametrize(("cls", "definition"), [(CanaryAnalysis, "canary_analysis"), (CanaryMetric, "canary_metric")])
def test_schema_defaults_are_the_dataclass_defaults(cls: type, definition: str) -> None:
    schema = _defs()[definition]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert list(schema["properties"]) == list(fields), "the same fields, in the same order"
    for name, field in fields.items():
        spec = schema["properties"][name]
        if field.default is dataclasses.MISSING:
            assert "default" not in spec and name in schema["required"], name
        else:
            assert spec.get("default") == field.default, name
            assert type(spec["default"]) is type(field.default) or isinstance(field.default, float), name
            assert name not in schema["required"], name


def test_the_settings_and_the_input_accept_the_same_analysis() -> None:
    settings = _defs()["settings"]["properties"]["canary_analysis"]
    assert settings == {"$ref": "urn:asg-terminator:schemas:validate_input.input#/properties/canary_analysis"}
    given = contracts.schema("validate_input.input")["properties"]["canary_analysis"]
    assert {"$ref": "urn:asg-terminator:schemas:common#/$defs/canary_analysis"} in given["oneOf"]
    assert "canary_analysis" not in _defs()["settings"]["required"]  # executions started before stay valid
    assert contracts.defaults("validate_input.input")["canary_analysis"] is None


def _validated(**fields: Any) -> dict[str, Any]:
    event = {"asg_names": ["live_asg_web"], **fields}
    assert contracts.problems("validate_input.input", event) == []
    release = settings_from_input(event, contracts.defaults("validate_input.input"))
    assert contracts.problems("validate_input.output", release) == []
    return release["settings"]


def test_validate_input_applies_the_analysis_defaults() -> None:
    settings = _validated(checkpoints=[1], canary_analysis={"metrics": [LATENCY], "period_seconds": 1})
    assert settings["canary_analysis"] == {
        "metrics": [{**LATENCY, "statistic": "Average", "tolerance_percent": 0, "critical": False}],
        "period_seconds": 1,
        "min_samples": 20,
        "pass_score": 95,
        "marginal_score": 75,
    }
    assert CanaryAnalysis.from_record(settings["canary_analysis"]).period_seconds == 1


@pytest.mark.parametrize("period", [1, 5, 10, 30, 60, 120, 300])
def test_cloudwatch_periods_up_to_the_bake_are_allowed(period: int) -> None:
    analysis = {"metrics": [LATENCY], "period_seconds": period, "marginal_score": 95}  # marginal == pass is allowed
    assert _validated(checkpoints=["50%"], canary_analysis=analysis)["canary_analysis"]["period_seconds"] == period


def test_no_analysis_is_none() -> None:
    assert _validated(checkpoints=[1], canary_analysis=None)["canary_analysis"] is None
    assert _validated()["canary_analysis"] is None


def test_every_problem_is_named_at_once() -> None:
    event = {"asg_names": ["w"], "canary_analysis": {"metrics": [LATENCY], "period_seconds": 90, "marginal_score": 99}}
    with pytest.raises(InvalidExecutionInputError) as rejected:
        settings_from_input(event, contracts.defaults("validate_input.input"))
    message = str(rejected.value)
    assert "canary_analysis: needs checkpoints" in message
    assert "canary_analysis.marginal_score: 99 is above pass_score 95" in message
    assert "canary_analysis.period_seconds: 90 is no CloudWatch period" in message
