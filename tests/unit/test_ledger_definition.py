"""The per-ASG ledger is defined once, in tasks/domain/fleet.py: the schemas that check it and the state
machine that routes on it and carries it into the outcome are compared with it here, field by field."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import tasks
from asg_terminator import asl_walk
from asg_terminator.paths import RELEASE_ASL
from state_machines import build
from tasks import contracts
from tasks.domain.fleet import USUAL, Action, Decision, Pending, Progress

if TYPE_CHECKING:
    from collections.abc import Iterator

ACTION = "$.progress.decision.action"
SCHEMA_FILES = sorted((Path(tasks.__file__).parent / "schemas").glob("*.json"))
DEFINITIONS = contracts.schema("common")["$defs"]
# Each ledger record, its schema (common.json), and a value of it with every field it may leave at its default.
RECORDS: dict[type, tuple[str, Any]] = {
    Progress: ("progress", Progress()),
    Pending: ("pending", Pending(("i-0a01",), None, "2025-03-01T12:00:00.000Z", "waiting")),
    Decision: ("decision", Decision(Action.WAIT, "live_asg_web => waiting")),
}
OUTCOMES = ("AsgConverged", "AsgPlanned", "AsgContinues", "AsgFailed", "AsgSkipped")


def _nodes(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every value in a JSON document, with the keys that lead to it."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _nodes(value, (*path, key))
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value, path)


def _action_rules() -> Iterator[tuple[str, Any]]:
    """Each schema's rule for a decision's action: common.json's definition, and the steps that take
    one action only."""
    for path in SCHEMA_FILES:
        document = json.loads(path.read_text(encoding="utf-8"))
        for keys, node in _nodes(document):
            if keys[-3:] == ("decision", "properties", "action"):
                yield path.name, node


def test_the_schema_allows_the_domains_actions_and_only_them() -> None:
    action = contracts.schema("common")["$defs"]["decision"]["properties"]["action"]
    assert action == {"enum": [a.value for a in Action]}


def test_a_step_that_takes_one_action_names_one_of_the_domains() -> None:
    rules = list(_action_rules())
    assert len(rules) > 1, "no step schema names an action"
    for name, rule in rules:
        allowed = rule["enum"] if "enum" in rule else [rule["const"]]
        assert set(allowed) <= set(Action), f"{name}: {allowed}"


def test_the_state_machine_routes_every_action_and_only_the_domains() -> None:
    """A Choice state compares the decision's action with an Action; what none routes is a wait
    (BatchDecision's default: WaitBeforeReread), but for a wait that names booting instances to watch
    (WatchBooting)."""
    definition = json.loads(RELEASE_ASL.read_text(encoding="utf-8"))
    routed: set[str] = set()
    for name, state in asl_walk.states(definition):
        if state["Type"] != "Choice":
            continue
        for rule in state["Choices"]:
            for _, node in _nodes([rule]):
                if isinstance(node, dict) and node.get("Variable") == ACTION:
                    assert node["StringEquals"] in set(Action), name
                    routed.add(node["StringEquals"])
                    if node["StringEquals"] == Action.WAIT:
                        assert rule["Next"] == "WatchBooting", name
                        assert {"Variable": "$.progress.decision.watch[0]", "IsPresent": True} in rule["And"], name
    assert routed == set(Action)
    assert definition_default(definition) == "WaitBeforeReread"


def definition_default(definition: dict[str, Any]) -> str:
    (decision,) = [s for n, s in asl_walk.states(definition) if n == "BatchDecision"]
    return str(decision["Default"])


@pytest.mark.parametrize("record", list(RECORDS), ids=lambda record: record.__name__)
def test_a_ledger_record_and_its_schema_name_the_same_fields(record: type) -> None:
    name, _ = RECORDS[record]
    named = {field.name for field in fields(record)}
    allowed = set(DEFINITIONS[name]["properties"])
    assert named - allowed == set(), f"{record.__name__}'s fields that common.json's {name} does not allow"
    assert allowed - named == set(), f"common.json's {name} allows fields that {record.__name__} does not have"


@pytest.mark.parametrize("record", list(RECORDS), ids=lambda record: record.__name__)
def test_what_a_record_may_leave_out_is_optional_and_read_back(record: type) -> None:
    """The schema requires no field a record leaves out at its usual value, and every field it does
    not require is read back at its default: a record from before the field was added still loads."""
    name, value = RECORDS[record]
    required = set(DEFINITIONS[name]["required"])
    usual = USUAL[record]
    assert set(usual) <= {field.name for field in fields(record)}, "a usual value of no field"
    assert required & set(usual) == set(), "a required field a record may leave out"
    written = value.to_record()
    assert set(written) & set(usual) == set(), "a usual value that is not the field's default as a record holds it"
    assert record.from_record({key: written[key] for key in required}) == value


def test_the_outcome_carries_the_ledger_but_what_it_drops() -> None:
    """Every field of Progress is carried into an ASG's outcome (its schema: common.json's
    outcome_progress, each field's rule the ledger's), or dropped by name (build.NOT_IN_OUTCOME)."""
    named = [field.name for field in fields(Progress)]
    assert set(build.NOT_IN_OUTCOME) <= set(named), "a dropped field Progress does not have"
    assert set(build.LEDGER) | set(build.NOT_IN_OUTCOME) == set(named)
    outcomes = {*build.LEDGER, *build.CHAIN_ONLY}
    assert outcomes & set(USUAL[Progress]) == set(), "a field a record may leave out (its path would fail)"
    carried = DEFINITIONS["outcome_progress"]["properties"]
    assert outcomes - set(carried) == set(), "carried fields that common.json's outcome_progress lacks"
    assert set(carried) - outcomes == set(), "outcome_progress fields no outcome carries"
    ledger = DEFINITIONS["progress"]["properties"]
    assert {key: rule for key, rule in carried.items() if rule != ledger[key]} == {}
    assert set(DEFINITIONS["outcome_progress"]["required"]) <= set(carried)


def test_each_outcome_state_carries_the_ledger_fields_the_outcome_has() -> None:
    definition = json.loads(RELEASE_ASL.read_text(encoding="utf-8"))
    states = dict(asl_walk.states(definition))
    for name in OUTCOMES:
        selected = states[name]["Parameters"]["progress"]
        fields_ = {key.removesuffix(".$"): path for key, path in selected.items()}
        assert all(path == f"$.progress.{key}" for key, path in fields_.items()), name
        expected = set(build.LEDGER) - (set() if name == "AsgPlanned" else {"decision"})
        if name == "AsgContinues":  # the chain's next execution goes on from them
            expected |= set(build.CHAIN_ONLY)
        assert set(fields_) == expected, name
