"""The per-ASG ledger is defined once, in tasks/domain/fleet.py: the schemas that check it and the state
machine that routes on it and carries it into the outcome are compared with it here, field by field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tasks
from asg_terminator import asl_walk
from asg_terminator.paths import RELEASE_ASL
from tasks import contracts
from tasks.domain.fleet import Action

if TYPE_CHECKING:
    from collections.abc import Iterator

ACTION = "$.progress.decision.action"
SCHEMA_FILES = sorted((Path(tasks.__file__).parent / "schemas").glob("*.json"))


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
    (BatchDecision's default: WaitBeforeReread)."""
    definition = json.loads(RELEASE_ASL.read_text(encoding="utf-8"))
    routed: set[str] = set()
    for name, state in asl_walk.states(definition):
        if state["Type"] != "Choice":
            continue
        for _, node in _nodes(state["Choices"]):
            if isinstance(node, dict) and node.get("Variable") == ACTION:
                assert node["StringEquals"] in set(Action), name
                routed.add(node["StringEquals"])
    assert routed | {Action.WAIT} == set(Action)
    assert Action.WAIT not in routed
