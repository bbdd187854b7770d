"""Step contracts: the schemas themselves, the messages a broken document gets, and the step wrapper."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

import tasks
from tasks import contracts
from tasks.domain.execution_input import NOT_SETTINGS, settings_from_input
from tasks.domain.fleet import Pending, Progress
from tasks.errors import InvalidExecutionInputError, InvalidStepInputError, InvalidStepOutputError
from tests.unit.builders import RELEASE_ID, fleet, instance, settings, stamp

SCHEMA_DIR = Path(tasks.__file__).parent / "schemas"
SCHEMA_FILES = sorted(SCHEMA_DIR.glob("*.json"))


def test_there_are_schemas_to_check() -> None:
    names = {p.stem for p in SCHEMA_FILES}
    assert "common" in names
    assert {"discover.input", "discover.output", "select_batch.input", "summarize.output"} <= names


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_each_schema_is_valid_2020_12_and_named_after_its_file(path: Path) -> None:
    contents = json.loads(path.read_text(encoding="utf-8"))
    assert contents["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(contents)
    assert contents["$id"] == contracts.SCHEMA_URN + path.stem
    assert contracts.schema(path.stem) == contents


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_every_ref_in_a_schema_resolves(path: Path) -> None:
    contents = json.loads(path.read_text(encoding="utf-8"))
    registry: Registry = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc))
        for doc in (json.loads(p.read_text(encoding="utf-8")) for p in SCHEMA_FILES)
    )
    resolver = registry.resolver(base_uri=contents["$id"])
    for ref in _refs(contents):
        assert resolver.lookup(ref).contents is not None, ref


def test_defaults_are_the_execution_input_defaults() -> None:
    assert contracts.defaults("validate_input.input") == {
        "target_version": None,
        "version_url": "http://{PrivateIpAddress}:80/version",
        "min_healthy": 1,
        "min_healthy_percent": 0,
        "max_batch": None,
        "poll_seconds": 15,
        "replacement_timeout_seconds": 900,
        "probe_timeout_seconds": 2,
        "replace_unreadable": False,
        "allow_downgrade": False,
        "dry_run": False,
        "standby_instances": "ignore",
        "protected_instances": "replace",
        "event_bus_name": None,
        "max_surge": 0,
        "suspend_processes": ["AZRebalance", "ScheduledActions", "InstanceRefresh"],
        "healthy_for_seconds": 0,
        "when_held": "fail",
        "alarm_names": [],
        "checkpoints": [],
        "bake_seconds": 300,
        "approve_checkpoints": False,
        "canary_analysis": None,
        "rollback_on_failure": False,
        "pin_parameter": None,
        "max_history_events": 20000,
    }


def test_defaults_satisfy_the_settings_every_later_step_requires() -> None:
    document = settings_from_input({"asg_names": ["live_asg_web"]}, contracts.defaults("validate_input.input"))
    assert contracts.problems("validate_input.output", document) == []


def test_the_settings_restate_no_rule_of_the_execution_input() -> None:
    """Every later step's settings are the input's fields, each by reference to the input's own."""
    carried = contracts.schema("common")["$defs"]["settings"]["properties"]
    given = contracts.schema("validate_input.input")["properties"]
    assert set(carried) == set(given) - set(NOT_SETTINGS)
    for name, spec in carried.items():
        assert spec == {"$ref": f"{contracts.SCHEMA_URN}validate_input.input#/properties/{name}"}, name


def test_the_settings_apply_the_input_rules() -> None:
    document = settings_from_input({"asg_names": ["live_asg_web"]}, contracts.defaults("validate_input.input"))
    broken = {**document, "settings": {**document["settings"], "min_healthy": -1, "max_surge": "1000%"}}
    found = contracts.problems("validate_input.output", broken)
    assert [p.split(":")[0] for p in found] == ["settings.max_surge", "settings.min_healthy"]


def test_a_schema_without_defaults_has_none() -> None:
    assert contracts.defaults("discover.input") == {}


def execution_input(**fields: Any) -> dict[str, Any]:
    return {"asg_names": ["live_asg_web"], **fields}


def test_a_valid_document_has_no_problems() -> None:
    assert contracts.problems("validate_input.input", execution_input()) == []
    assert contracts.problems("validate_input.input", execution_input(target_version=None, max_batch=None)) == []


def test_unknown_field_is_named_with_the_allowed_ones() -> None:
    assert contracts.problems("validate_input.input", execution_input(max_batches=2)) == [
        "max_batches: unknown field (allowed: asg_names, target_version, version_url, min_healthy, "
        "min_healthy_percent, max_batch, max_surge, suspend_processes, poll_seconds, replacement_timeout_seconds, "
        "healthy_for_seconds, probe_timeout_seconds, replace_unreadable, asg_targets, allow_downgrade, dry_run, "
        "when_held, "
        "standby_instances, "
        "protected_instances, alarm_names, "
        "checkpoints, bake_seconds, approve_checkpoints, canary_analysis, rollback_on_failure, pin_parameter, "
        "event_bus_name, "
        "max_history_events, continuation, AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID)"
    ]


def test_each_unknown_field_is_named() -> None:
    found = contracts.problems(
        "discover.input", {"asg_name": "a", "release_id": "r", "version_url": "u", "zz": 1, "aa": 2}
    )
    assert found == [
        "aa: unknown field (allowed: asg_name, release_id, version_url); "
        "zz: unknown field (allowed: asg_name, release_id, version_url)"
    ]


def stored(record: dict[str, Any]) -> dict[str, Any]:
    """A fleet record as the fleet bucket holds it (the claim check's schema: fleet_record.json)."""
    return {
        "release_id": "arn:aws:states:us-east-1:123456789012:execution:asg-terminator-release:t",
        "written_by": "Discover",
        "fleet": record,
    }


def ref(instances: int = 1) -> dict[str, Any]:
    """What Discover returns: where its read is stored."""
    return {"asg_name": "live_asg_web", "key": "fleets/t/live_asg_web/" + "0" * 32 + ".json", "instances": instances}


def test_nested_unknown_field_is_named_with_its_path() -> None:
    record = fleet(instance("i-0a01")).to_record()
    record["instances"][0]["ip"] = "10.0.0.1"
    found = contracts.problems("fleet_record", stored(record))
    assert len(found) == 1
    assert found[0].startswith("fleet.instances[0].ip: unknown field (allowed: id, lifecycle, health, az, url,")


def test_missing_required_field_is_named() -> None:
    assert contracts.problems("validate_input.input", {}) == ["asg_names: required field is missing"]
    assert contracts.problems("discover.input", {"asg_name": "live_asg_web", "release_id": "r"}) == [
        "version_url: required field is missing"
    ]


def test_nested_missing_required_field_is_named_with_its_path() -> None:
    record = fleet(instance("i-0a01")).to_record()
    del record["instances"][0]["az"]
    assert contracts.problems("fleet_record", stored(record)) == ["fleet.instances[0].az: required field is missing"]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("min_healthy", "1", "min_healthy: '1' is not of type 'integer'"),
        ("replace_unreadable", "yes", "replace_unreadable: 'yes' is not of type 'boolean'"),
        ("asg_names", "live_asg_web", "asg_names: 'live_asg_web' is not of type 'array'"),
        ("min_healthy", True, "min_healthy: True is not of type 'integer'"),
    ],
)
def test_wrong_type_is_named(field: str, value: Any, expected: str) -> None:
    assert contracts.problems("validate_input.input", execution_input(**{field: value})) == [expected]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("min_healthy_percent", 101, "min_healthy_percent: 101 is greater than the maximum of 100"),
        ("min_healthy", -1, "min_healthy: -1 is less than the minimum of 0"),
        ("poll_seconds", 0, "poll_seconds: 0 is less than the minimum of 1"),
        ("probe_timeout_seconds", 0, "probe_timeout_seconds: 0 is less than or equal to the minimum of 0"),
        ("asg_names", [], "asg_names: [] should be non-empty"),
    ],
)
def test_out_of_range_is_named(field: str, value: Any, expected: str) -> None:
    assert contracts.problems("validate_input.input", execution_input(**{field: value})) == [expected]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("target_version", 5, "target_version: 5 is not of type 'string'"),
        ("target_version", "", "target_version: '' should be non-empty"),
        ("target_version", "1" * 65, "target_version: '" + "1" * 65 + "' is too long"),
        ("max_batch", 0, "max_batch: 0 is less than the minimum of 1"),
        ("max_batch", "2", "max_batch: '2' is not of type 'integer'"),
    ],
)
def test_nullable_field_reports_the_rule_of_the_branch_that_fits(field: str, value: Any, expected: str) -> None:
    assert contracts.problems("validate_input.input", execution_input(**{field: value})) == [expected]


def test_problems_are_capped_and_sorted_by_field() -> None:
    document = {
        "asg_names": [],
        "min_healthy": -1,
        "min_healthy_percent": 101,
        "max_batch": 0,
        "poll_seconds": 0,
        "replacement_timeout_seconds": 0,
        "probe_timeout_seconds": 31,
    }
    found = contracts.problems("validate_input.input", document)
    assert len(found) == contracts.MAX_REPORTED == 5
    assert [f.split(":")[0] for f in found] == [
        "asg_names",
        "max_batch",
        "min_healthy",
        "min_healthy_percent",
        "poll_seconds",
    ]


def _pending_with_bad_since() -> dict[str, Any]:
    """CheckReplacement's output (the ASG's state) with a bad time in its pending batch."""
    record = Progress(target_version="1.0.274").to_record()
    record["pending"] = {"instance_ids": ["i-0a01"], "since": "yesterday", "status": "s", "wait_seconds": 5}
    return {"asg_name": "live_asg_web", "release_id": RELEASE_ID, "settings": settings(), "progress": record}


def test_a_rule_broken_inside_a_nullable_object_is_reported() -> None:
    found = contracts.problems("check_replacement.output", _pending_with_bad_since())
    assert len(found) == 1
    assert "'yesterday' does not match" in found[0]


def test_a_rule_broken_inside_a_nullable_object_names_the_field_inside() -> None:
    found = contracts.problems("check_replacement.output", _pending_with_bad_since())
    assert found[0].startswith("progress.pending.since: ")


def test_describe_works_on_any_validation_error() -> None:
    local = Draft202012Validator(
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["a"],
            "properties": {
                "a": {"type": "integer", "maximum": 3},
                "b": {"oneOf": [{"type": "string"}, {"type": "null"}]},
            },
        }
    )
    described = sorted(contracts.describe(e) for e in local.iter_errors({"a": 9, "b": 1, "c": 0}))
    assert described == [
        "a: 9 is greater than the maximum of 3",
        "b: 1 is not of type 'string'",
        "c: unknown field (allowed: a, b)",
    ]
    assert [contracts.describe(e) for e in local.iter_errors({})] == ["a: required field is missing"]


def test_a_long_message_is_cut_at_200_characters() -> None:
    found = contracts.problems("discover.input", {"asg_name": "x" * 300, "release_id": "r", "version_url": "u"})
    assert len(found) == 1
    assert found[0].startswith("asg_name: '" + "x" * 100)
    assert found[0].endswith("...")
    assert len(found[0]) == len("asg_name: ") + 200 + 3


# --- the step wrapper ---------------------------------------------------------------------------------

GOOD_INPUT = {"asg_name": "live_asg_web", "release_id": "r", "version_url": "http://{PrivateIpAddress}:80/version"}


def discover_returning(result: dict[str, Any], calls: list[dict[str, Any]]) -> Any:
    @contracts.step("discover")
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(event)
        return result

    return handler


def test_step_passes_a_valid_event_and_returns_a_valid_result_untouched() -> None:
    result = ref(2)
    calls: list[dict[str, Any]] = []
    assert discover_returning(result, calls)(GOOD_INPUT, None) is result
    assert calls == [GOOD_INPUT]


def test_step_refuses_bad_input_before_the_handler_runs() -> None:
    calls: list[dict[str, Any]] = []
    handler = discover_returning(ref(), calls)
    with pytest.raises(InvalidStepInputError) as raised:
        handler({"asg_name": "live_asg_web", "release_id": "r", "version_url": "", "extra": 1}, None)
    assert str(raised.value) == (
        "discover input: extra: unknown field (allowed: asg_name, release_id, version_url); "
        "version_url: '' should be non-empty"
    )
    assert calls == []


def test_step_refuses_bad_output() -> None:
    bad = {**ref(), "instances": -1, "key": "elsewhere/k.json"}
    with pytest.raises(InvalidStepOutputError) as raised:
        discover_returning(bad, [])(GOOD_INPUT, None)
    assert str(raised.value) == (
        "discover output: instances: -1 is less than the minimum of 0; "
        "key: 'elsewhere/k.json' does not match '^fleets/[^/]+/[^/]+/[0-9a-f]{32}\\\\.json$'"
    )


def test_step_raises_the_input_error_it_was_given() -> None:
    @contracts.step("validate_input", input_error=InvalidExecutionInputError)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return settings_from_input(event, settings())

    assert handler({"asg_names": ["live_asg_web"]}, None)["settings"] == settings()
    missing = r"^validate_input input: asg_names: required field is missing$"
    with pytest.raises(InvalidExecutionInputError, match=missing):
        handler({}, None)


def test_step_keeps_the_handler_name() -> None:
    handler = discover_returning({}, [])
    assert handler.__name__ == "handler"


def test_check_replacement_input_requires_a_target_and_a_pending_batch() -> None:
    progress = Progress(target_version=None, pending=None).to_record()
    found = contracts.problems(
        "check_replacement.input",
        {"asg_name": "live_asg_web", "release_id": RELEASE_ID, "progress": progress, "settings": settings()},
    )
    assert any(f.startswith("progress.target_version: ") for f in found)
    assert any(f.startswith("progress.pending: ") for f in found)
    ok = Progress(target_version="1.0.274", pending=Pending(("i-0a01",), None, stamp(0), "s")).to_record()
    assert (
        contracts.problems(
            "check_replacement.input",
            {"asg_name": "live_asg_web", "release_id": RELEASE_ID, "progress": ok, "settings": settings()},
        )
        == []
    )
