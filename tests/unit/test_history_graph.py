"""The history page's graph, laid out in Python: every state a node, every transition an edge, no
overlap, layers that go downward, and an SVG a browser (and an XML parser) reads. Checked on the
real state machine and on random ones, against expectations computed here from the ASL itself."""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from asg_terminator import asl_walk, history, history_graph, history_html
from asg_terminator.history_graph import START, Layout
from asg_terminator.paths import RELEASE_ASL

if TYPE_CHECKING:
    import pytest

DEFINITION = json.loads(RELEASE_ASL.read_text(encoding="utf-8"))
SVG = "{http://www.w3.org/2000/svg}"


def _expected_edges(definition: dict[str, Any]) -> set[tuple[str, str]]:
    """From the ASL's fields, written out here rather than taken from the module under test."""
    edges = {(START, definition["StartAt"])}
    for inside, machine in asl_walk.machines(definition):
        if inside:
            edges.add((inside, machine["StartAt"]))
        for name, state in machine["States"].items():
            targets = [state.get("Next"), state.get("Default")]
            targets += [c["Next"] for c in state.get("Choices", [])]
            targets += [c["Next"] for c in state.get("Catch", [])]
            edges.update((name, t) for t in targets if t)
    return edges


def _reaches(edges: set[tuple[str, str]], source: str, target: str) -> bool:
    seen, todo = {source}, [source]
    while todo:
        here = todo.pop()
        if here == target:
            return True
        for a, b in edges:
            if a == here and b not in seen:
                seen.add(b)
                todo.append(b)
    return False


def _check_geometry(definition: dict[str, Any], drawn: Layout) -> None:
    names = {n for n, _ in asl_walk.states(definition)}
    assert set(drawn.nodes) == names | {START}
    edges = _expected_edges(definition)
    assert {(a.source, a.target) for a in drawn.arrows} == edges
    assert len(drawn.arrows) == len(edges)  # two Choices to one state: one arrow
    page = history_graph.Box(0, 0, drawn.width, drawn.height)
    for node in drawn.nodes.values():
        assert page.contains(node.frame) and node.frame.contains(node.box)
        assert node.box.w > 0 and node.box.h > 0
    # No two nodes of a machine overlap; a Map's states lie inside its frame, below its title bar.
    for a, b in itertools.combinations(drawn.nodes.values(), 2):
        if a.machine == b.machine:
            assert not a.frame.overlaps(b.frame), (a.name, b.name)
    for node in drawn.nodes.values():
        if node.machine:
            frame = drawn.nodes[node.machine]
            assert frame.frame.contains(node.frame) and not frame.box.overlaps(node.frame), node.name
    # Each arrow runs from its source's border to its target's.
    for arrow in drawn.arrows:
        if arrow.source != arrow.target:
            assert _on_border(drawn.nodes[arrow.source].frame, arrow.points[0]) or arrow.source == arrow.machine
            assert _on_border(drawn.nodes[arrow.target].frame, arrow.points[-1]), arrow


def _check_layers(definition: dict[str, Any], drawn: Layout) -> int:
    """Layers are real: one band of height each, top to bottom; every state the start reaches is one
    layer below some predecessor (none skipped); every arrow that does not go down closes a loop of
    the ASL. Layer 0 is the start: the Start marker, or inside a Map its title bar. Returns how many
    arrows go up."""
    edges = _expected_edges(definition)
    up = 0
    for inside, _ in asl_walk.machines(definition):
        members = [n for n in drawn.nodes.values() if n.machine == inside]
        for a, b in itertools.permutations(members, 2):
            if a.rank < b.rank:
                assert a.frame.y + a.frame.h < b.frame.y, (a.name, b.name)
            if a.rank == b.rank:
                assert math.isclose(a.frame.centre[1], b.frame.centre[1]), (a.name, b.name)
        rank = {n.name: n.rank for n in members} | {inside or START: 0}
        assert all(rank[n.name] > 0 for n in members if n.name != START)
        arrows = [x for x in drawn.arrows if x.machine == inside]
        for arrow in arrows:
            if rank[arrow.target] <= rank[arrow.source]:
                up += 1
                assert _reaches(edges, arrow.target, arrow.source), f"{arrow.source}->{arrow.target} turned for nothing"
        for node in members:
            if node.name != START and _reaches(edges, inside or START, node.name):
                assert any(rank[x.source] == node.rank - 1 for x in arrows if x.target == node.name), node.name
    return up


def _on_border(box: history_graph.Box, point: tuple[float, float]) -> bool:
    x, y = point
    inside = box.x - 0.01 <= x <= box.x + box.w + 0.01 and box.y - 0.01 <= y <= box.y + box.h + 0.01
    edge = min(abs(x - box.x), abs(x - box.x - box.w), abs(y - box.y), abs(y - box.y - box.h))
    return inside and edge < 0.01


def test_the_release_machine_is_laid_out_whole_without_overlap() -> None:
    drawn = history_graph.layout(DEFINITION)
    _check_geometry(DEFINITION, drawn)
    up = _check_layers(DEFINITION, drawn)
    # Downward mostly: only the loops back (re-read the fleet, wait again) go up.
    assert 0 < up <= len(drawn.arrows) // 4
    assert drawn.nodes[START].rank == 0 and drawn.nodes[DEFINITION["StartAt"]].rank == 1


def test_catches_and_defaults_are_labelled_on_their_arrows() -> None:
    drawn = history_graph.layout(DEFINITION)
    labels = {(a.source, a.target): a.labels for a in drawn.arrows}
    catches = {
        (name, catch["Next"]): "catch " + ",".join(catch["ErrorEquals"])
        for name, state in asl_walk.states(DEFINITION)
        for catch in state.get("Catch", [])
    }
    assert catches
    for edge, label in catches.items():
        assert label in labels[edge]
    assert "default" in labels[("RouteInput", DEFINITION["States"]["RouteInput"]["Default"])]


def _page_view(outcomes: dict[str, str], taken: dict[tuple[str, str], int]) -> ET.Element:
    text = history_graph.svg(DEFINITION, outcomes, taken, history_html.COLOURS, history_html.FILLS)
    root = ET.fromstring(text)
    assert root.tag == SVG + "svg"
    return root


def _groups(root: ET.Element, kind: str) -> list[ET.Element]:
    return [g for g in root.iter(SVG + "g") if g.get("class") == kind]


def test_the_svg_is_well_formed_and_coloured_by_outcome() -> None:
    root = _page_view({"SelectBatch": history.CAUGHT, "Discover": history.SUCCEEDED}, {("Discover", "ReadVersions"): 3})
    _, _, width, height = (float(v) for v in root.attrib["viewBox"].split())
    nodes = _groups(root, "node")
    names = {n for n, _ in asl_walk.states(DEFINITION)}
    assert len(nodes) == len(names) + 1
    assert {g.get("id") for g in nodes} == {f"state-{n}" for n in names} | {"start"}
    for g in nodes:
        shape = g.find(SVG + "rect")
        if shape is None:
            shape = g.find(SVG + "circle")
        assert shape is not None
        if shape.tag == SVG + "rect":
            x, y, w, h = (float(shape.attrib[k]) for k in ("x", "y", "width", "height"))
            assert x >= 0 and x + w <= width + 0.1 and y >= 0 and y + h <= height + 0.1
    by_id = {g.get("id"): g.find(SVG + "rect") for g in nodes}
    assert by_id["state-SelectBatch"].get("stroke") == history_html.COLOURS[history.CAUGHT]
    assert by_id["state-Drain"].get("stroke") == history_html.COLOURS[None]
    edges = {(g.get("data-source"), g.get("data-target")): g for g in _groups(root, "edge")}
    assert len(edges) == len(_expected_edges(DEFINITION))
    assert edges[("Discover", "ReadVersions")].find(SVG + "path").get("stroke") == history_graph.EDGE_TAKEN
    assert edges[("Discover", "RollBackOnFailure")].find(SVG + "path").get("stroke") == history_graph.EDGE_GREY
    labels = {(g.get("data-source"), g.get("data-target")): "".join(g.itertext()) for g in _groups(root, "label")}
    assert labels[("Discover", "ReadVersions")] == "×3"
    assert labels[("Discover", "RollBackOnFailure")] == "catch States.ALL"
    assert ("ReadVersions", "SelectBatch") not in labels  # a plain Next, not taken: nothing to say


def test_no_graphviz_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing on the way to the page looks for or runs a program."""
    import subprocess

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the graph must not run a program: {args}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(shutil, "which", refuse)
    root = _page_view({}, {})
    assert len(_groups(root, "node")) > 30


# Random machines: any shape of Next / Choices / Default / Catch, loops and states that loop on
# themselves, unreachable states, and Maps with their own machines.


@st.composite
def machines(draw: st.DrawFn, depth: int = 0, prefix: str = "S") -> dict[str, Any]:
    count = draw(st.integers(1, 12 if depth == 0 else 6))
    names = [f"{prefix}{i}" for i in range(count)]
    pick = st.sampled_from(names)
    states: dict[str, Any] = {}
    for i, name in enumerate(names):
        kind = draw(st.sampled_from(["Task", "Choice", "Pass", "Succeed", "Map"] if depth == 0 else ["Task", "Choice"]))
        state: dict[str, Any] = {"Type": kind}
        if kind == "Choice":
            state["Choices"] = [{"Next": draw(pick)} for _ in range(draw(st.integers(1, 3)))]
            state["Default"] = draw(pick)
        elif kind == "Map":
            state["ItemProcessor"] = draw(machines(depth + 1, f"{name}M"))
        if kind in {"Task", "Pass", "Map"}:
            if draw(st.booleans()) or i == 0:
                state["Next"] = draw(pick)
            else:
                state["End"] = True
        if kind == "Task" and draw(st.booleans()):
            state["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": draw(pick)}]
        states[name] = state
    return {"StartAt": draw(pick), "States": states}


# grandalf alone lays this one out with S6 and S7 overlapping (hence history_graph._separate).
OVERLAPPED_BY_GRANDALF = {
    "StartAt": "S0",
    "States": {
        "S0": {"Type": "Task", "Next": "S1"},
        "S1": {"Type": "Task", "End": True, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "S3"}]},
        "S2": {"Type": "Task", "End": True},
        "S3": {"Type": "Choice", "Choices": [{"Next": "S0"}], "Default": "S8"},
        "S4": {"Type": "Task", "End": True},
        "S5": {"Type": "Task", "End": True},
        "S6": {"Type": "Task", "End": True},
        "S7": {"Type": "Choice", "Choices": [{"Next": "S0"}, {"Next": "S0"}, {"Next": "S2"}], "Default": "S4"},
        "S8": {"Type": "Pass", "Next": "S0"},
    },
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(machines())
@example(OVERLAPPED_BY_GRANDALF)
def test_any_machine_is_laid_out_whole_without_overlap_in_layers(definition: dict[str, Any]) -> None:
    drawn = history_graph.layout(definition)
    _check_geometry(definition, drawn)
    _check_layers(definition, drawn)
    ET.fromstring(history_graph.svg(definition, {}, {}, history_html.COLOURS, history_html.FILLS))


def test_every_label_finds_a_place_that_covers_no_state() -> None:
    """Even with every edge taken hundreds of times (the longest labels), each label sits clear of
    every state's box, in the room the drawing reserves for it."""
    drawn = history_graph.layout(DEFINITION)
    taken = {(a.source, a.target): 188 for a in drawn.arrows}
    root = _page_view({}, taken)
    boxes = [n.box for n in drawn.nodes.values()]
    labels = _groups(root, "label")
    assert len(labels) == len(drawn.arrows)
    for g in labels:
        text = g.find(SVG + "text")
        assert text is not None and text.text
        x, y = float(text.attrib["x"]), float(text.attrib["y"])
        width = len(text.text) * history_graph.LABEL_CHAR_WIDTH
        glyphs = history_graph.Box(x, y - 9, width, 11)
        assert not any(glyphs.overlaps(b) for b in boxes), text.text


def test_the_layout_is_the_same_in_every_process() -> None:
    """The page (and docs/history.png) must not change from one run to the next: grandalf must not
    see edges in a set's order, which follows object addresses and hash seeds."""
    import subprocess
    import sys

    code = (
        "import json, sys; from asg_terminator import history_graph; from asg_terminator.paths import RELEASE_ASL; "
        "print(repr(history_graph.layout(json.loads(RELEASE_ASL.read_text()))))"
    )
    runs = set()
    for seed in range(4):
        env = {**os.environ, "PYTHONHASHSEED": str(seed)}
        run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        runs.add(run.stdout)
    assert runs == {repr(history_graph.layout(DEFINITION)) + "\n"}
