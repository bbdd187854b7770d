"""The state machine's graph, laid out in layers and drawn as an inline SVG: no system binary.

The layout is grandalf's Sugiyama layout (pure Python, the layered method Graphviz's ``dot`` uses):
feedback edges are turned round so the graph is acyclic, every state gets a layer (its longest path
from the start), crossings are reduced layer by layer, and long edges bend through dummy points.
A Map state is a frame holding its own machine, laid out first and placed as one tall node.

``layout`` is geometry only (what the tests check); ``svg`` colours it with an execution's outcomes.
"""

from __future__ import annotations

import html
import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grandalf.graphs import Edge, Vertex, graph_core  # type: ignore[import-untyped]
from grandalf.layouts import SugiyamaLayout  # type: ignore[import-untyped]

from asg_terminator.asl_walk import processor

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

START = "__start"
CHAR_WIDTH = 6.6  # px per character at the 11 px node font, generous for Helvetica/Arial
NODE_HEIGHT = 38.0
START_SIZE = 30.0
HEADER_HEIGHT = 26.0  # a Map frame's title bar
PADDING = 14.0  # inside a Map frame
X_SPACE, Y_SPACE = 22.0, 30.0
DUMMY_WIDTH = 8.0  # the slot a long edge takes in each layer it crosses
MARGIN = 8.0

Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    x: float  # left
    y: float  # top
    w: float
    h: float

    @property
    def centre(self) -> Point:
        return self.x + self.w / 2, self.y + self.h / 2

    def overlaps(self, other: Box) -> bool:
        return (
            self.x < other.x + other.w
            and other.x < self.x + self.w
            and self.y < other.y + other.h
            and other.y < self.y + self.h
        )

    def contains(self, other: Box) -> bool:
        return (
            self.x <= other.x
            and self.y <= other.y
            and other.x + other.w <= self.x + self.w
            and other.y + other.h <= self.y + self.h
        )

    def moved(self, dx: float, dy: float) -> Box:
        return Box(self.x + dx, self.y + dy, self.w, self.h)


@dataclass(frozen=True)
class Node:
    name: str  # the state's name, or START
    type: str  # the state's Type ("Start" for the start marker)
    box: Box  # what is drawn for the state; for a Map, its title bar
    frame: Box  # the space it takes among its siblings: the box, or a Map's whole frame
    rank: int  # its layer in its machine; layer 0 is the start (inside a Map: its title bar)
    machine: str  # "" for the top level, else the Map state it is inside


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    labels: tuple[str, ...]  # "", "default", "catch <errors>"; one per ASL field that names the target
    points: tuple[Point, ...]  # from the source's border to the target's
    machine: str


@dataclass(frozen=True)
class Layout:
    nodes: dict[str, Node]
    arrows: tuple[Arrow, ...]
    width: float
    height: float


def transitions(state: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Where a state can go next, with a label: ``Next``, each Choice, ``Default``, each Catch."""
    if "Next" in state:
        yield state["Next"], ""
    for choice in state.get("Choices", []):
        yield choice["Next"], ""
    if "Default" in state:
        yield state["Default"], "default"
    for catch in state.get("Catch", []):
        yield catch["Next"], "catch " + ",".join(catch["ErrorEquals"])


def layout(definition: Mapping[str, Any]) -> Layout:
    """Every state of ``definition`` (nested Maps included) placed, and every transition routed."""
    part = _machine(definition, "")
    nodes = {name: _shift(node, MARGIN, MARGIN) for name, node in part.nodes.items()}
    arrows = tuple(_shift_arrow(a, MARGIN, MARGIN) for a in part.arrows)
    return Layout(nodes, arrows, part.width + 2 * MARGIN, part.height + 2 * MARGIN)


@dataclass
class _Part:
    nodes: dict[str, Node]
    arrows: list[Arrow]
    width: float
    height: float
    entry: list[Point]  # inside a Map: the path from the entry point to the first state
    entry_target: str


class _View:
    """What grandalf reads and writes on a vertex: its size, then its centre."""

    def __init__(self, w: float, h: float) -> None:
        self.w, self.h = w, h
        self.xy: Point = (0.0, 0.0)


class _Path:
    """What grandalf writes on an edge: the points it passes through, centre to centre."""

    def __init__(self) -> None:
        self.points: list[Point] = []

    def setpath(self, points: list[Point]) -> None:
        self.points = [(float(x), float(y)) for x, y in points]


def _text_width(*lines: str) -> float:
    return max(len(line) for line in lines) * CHAR_WIDTH + 20


def _machine(machine: Mapping[str, Any], inside: str) -> _Part:
    """One machine laid out, its Maps' machines first (each then placed as one tall node).

    Layer 0 holds the start: the Start marker at the top level; inside a Map, an entry point the
    Map's title bar stands for. Every state hangs from it, so the layers are one graph's."""
    states: Mapping[str, Mapping[str, Any]] = machine.get("States", {})
    inner = {name: _machine(sub, name) for name, sub in _maps(states)}
    sizes = _sizes(states, inner, inside)
    start = machine.get("StartAt")
    labels = _labels(states, start if isinstance(start, str) else None)

    centres, ranks, paths = _sugiyama(sizes, list(labels))

    shown = [n for n in sizes if inside == "" or n != START]
    left = min(centres[n][0] - sizes[n][0] / 2 for n in shown)
    top = min(centres[n][1] - sizes[n][1] / 2 for n in shown)
    nodes: dict[str, Node] = {}
    for name in shown:
        (cx, cy), (w, h) = centres[name], sizes[name]
        frame = Box(cx - w / 2 - left, cy - h / 2 - top, w, h)
        if name in inner:
            title = Box(frame.x, frame.y, frame.w, HEADER_HEIGHT)
            nodes[name] = Node(name, states[name]["Type"], title, frame, ranks[name], inside)
        else:
            kind = "Start" if name == START else states[name]["Type"]
            nodes[name] = Node(name, kind, frame, frame, ranks[name], inside)
    arrows = []
    for (source, target), text in labels.items():
        points = [(x - left, y - top) for x, y in paths[(source, target)]]
        if source == START and inside:
            continue  # drawn from the Map's title bar by the machine outside
        clipped = points if source == target else _clip(points, nodes[source].frame, nodes[target].frame)
        arrows.append(Arrow(source, target, tuple(text), tuple(clipped), inside))
    for name, part in inner.items():
        frame = nodes[name].frame
        dx, dy = frame.x + (frame.w - part.width) / 2, frame.y + HEADER_HEIGHT + PADDING
        nodes.update({n: _shift(node, dx, dy) for n, node in part.nodes.items()})
        arrows.extend(_shift_arrow(a, dx, dy) for a in part.arrows)
        if part.entry:
            entry = [(x + dx, y + dy) for x, y in part.entry]
            entry[0] = (entry[0][0], frame.y + HEADER_HEIGHT)
            target = part.entry_target
            arrows.append(Arrow(name, target, ("",), (*entry[:-1], _border(nodes[target].frame, entry[-2])), name))
    width = max(n.frame.x + n.frame.w for n in nodes.values() if n.machine == inside)
    height = max(n.frame.y + n.frame.h for n in nodes.values() if n.machine == inside)
    first = next((target for source, target in labels if source == START), "")
    entry = [(x - left, y - top) for x, y in paths[(START, first)]] if first and inside else []
    return _Part(nodes, arrows, width, height, entry, first)


def _maps(states: Mapping[str, Mapping[str, Any]]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, state in states.items():
        sub = processor(state)
        if sub is not None:
            yield name, sub


def _sizes(states: Mapping[str, Mapping[str, Any]], inner: Mapping[str, _Part], inside: str) -> dict[str, Point]:
    """Each node's width and height: a state's box fits its two lines; a Map's frame, its machine."""
    sizes: dict[str, Point] = {START: (START_SIZE, START_SIZE) if not inside else (DUMMY_WIDTH, 2.0)}
    for name, state in states.items():
        header = _text_width(name, f"({state['Type']})")
        if name in inner:
            sizes[name] = (
                max(header, _text_width(f"{name} (Map: each item)"), inner[name].width + 2 * PADDING),
                HEADER_HEIGHT + PADDING + inner[name].height + PADDING,
            )
        else:
            sizes[name] = (header, NODE_HEIGHT)
    return sizes


def _labels(states: Mapping[str, Mapping[str, Any]], start: str | None) -> dict[tuple[str, str], list[str]]:
    """The machine's edges, one per pair of states, with the label of each field that makes it."""
    labels: dict[tuple[str, str], list[str]] = {}
    if start is not None and start in states:
        labels[(START, start)] = [""]
    for name, state in states.items():
        for target, label in transitions(state):
            if target in states:
                labels.setdefault((name, target), []).append(label)
    return labels


def _sugiyama(
    sizes: Mapping[str, Point], edges: list[tuple[str, str]]
) -> tuple[dict[str, Point], dict[str, int], dict[tuple[str, str], list[Point]]]:
    """grandalf's layered layout of one machine, from START: each node's centre and layer, each
    edge's path. A state the start does not reach (an ASL has none, but a definition read back
    need not be valid) hangs from START by an edge that is laid out but not drawn."""
    vertices: dict[str, Any] = {}
    for name, (w, h) in sizes.items():
        vertex = Vertex(name)
        vertex.view = _View(w, h)
        vertices[name] = vertex
    laid = [(a, b) for a, b in edges if a != b]  # a state that loops on itself is drawn as a loop
    for hidden in _unreached(list(sizes), laid):
        laid.append((START, hidden))
    graph_edges: dict[tuple[str, str], Any] = {}
    for source, target in laid:
        edge = Edge(vertices[source], vertices[target])
        edge.view = _Path()
        graph_edges[(source, target)] = edge
    # One connected graph, built from ordered lists: grandalf's Graph would gather each component's
    # edges in a set, and the layout would then change from one process to the next.
    sugiyama = SugiyamaLayout(graph_core(list(vertices.values()), list(graph_edges.values())))
    sugiyama.xspace, sugiyama.yspace = X_SPACE, Y_SPACE
    sugiyama.dw, sugiyama.dh = DUMMY_WIDTH, NODE_HEIGHT / 2
    sugiyama.init_all(roots=[vertices[START]])
    sugiyama.draw(3)
    _separate(sugiyama)
    centres = {name: (float(v.view.xy[0]), float(v.view.xy[1])) for name, v in vertices.items()}
    ranks = {name: int(sugiyama.grx[v].rank) for name, v in vertices.items()}
    paths = {key: list(edge.view.points) for key, edge in graph_edges.items()}
    for source, target in edges:
        if source == target:
            (x, y), (w, _) = centres[source], sizes[source]
            paths[(source, target)] = [(x + w / 2, y - 6), (x + w / 2 + 18, y - 10), (x + w / 2 + 18, y + 10)]
    return centres, ranks, paths


def _separate(sugiyama: Any) -> None:
    """grandalf sets each node at the mean of the two middle of four alignments (Brandes and Köpf),
    and that can bring two neighbours in a layer closer than their widths: push each layer apart
    left to right, keeping its order, and route the edges again through the moved dummy points."""
    for layer in sugiyama.layers:
        previous_right: float | None = None
        for vertex in layer:
            x, y = vertex.view.xy
            half = vertex.view.w / 2
            if previous_right is not None and x - half < previous_right + X_SPACE:
                x = previous_right + X_SPACE + half
                vertex.view.xy = (x, y)
            previous_right = x + half
    sugiyama.draw_edges()


def _unreached(names: list[str], edges: list[tuple[str, str]]) -> list[str]:
    """The fewest states from which every state START does not reach is reached: those nothing
    leads to first, then (for loops nothing leads into) the first of each loop."""
    leads = {name: [b for a, b in edges if a == name] for name in names}
    seen: set[str] = set()

    def reach(name: str) -> None:
        todo = [name]
        while todo:
            here = todo.pop()
            if here not in seen:
                seen.add(here)
                todo.extend(leads[here])

    reach(START)
    sources = [n for n in names if not any(b == n for _, b in edges)]
    picked = []
    for name in sources + names:
        if name not in seen:
            picked.append(name)
            reach(name)
    return picked


def _clip(points: list[Point], source: Box, target: Box) -> tuple[Point, ...]:
    """A path between two centres, cut where it leaves the source's box and enters the target's."""
    if len(points) < 2:
        return tuple(points)
    return (_border(source, points[1]), *points[1:-1], _border(target, points[-2]))


def _border(box: Box, towards: Point) -> Point:
    """Where the line from the box's centre to ``towards`` crosses the box's edge."""
    cx, cy = box.centre
    dx, dy = towards[0] - cx, towards[1] - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min(
        (box.w / 2) / abs(dx) if dx else math.inf,
        (box.h / 2) / abs(dy) if dy else math.inf,
    )
    scale = min(scale, 1.0)
    return cx + dx * scale, cy + dy * scale


def _shift(node: Node, dx: float, dy: float) -> Node:
    return Node(node.name, node.type, node.box.moved(dx, dy), node.frame.moved(dx, dy), node.rank, node.machine)


def _shift_arrow(arrow: Arrow, dx: float, dy: float) -> Arrow:
    points = tuple((x + dx, y + dy) for x, y in arrow.points)
    return Arrow(arrow.source, arrow.target, arrow.labels, points, arrow.machine)


# Drawing ---------------------------------------------------------------------------------------

EDGE_GREY, EDGE_TAKEN = "#9e9e9e", "#37474f"


def svg(
    definition: Mapping[str, Any],
    outcomes: Mapping[str, str],
    taken: Mapping[tuple[str, str], int],
    colours: Mapping[str | None, str],
    fills: Mapping[str | None, str],
) -> str:
    """The laid-out graph as one ``<svg>`` element: each state a ``g.node`` with id ``state-<name>``,
    its border coloured by its outcome; edges taken drawn dark with their count."""
    drawn = layout(definition)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{drawn.width:.0f}" height="{drawn.height:.0f}" '
        f'viewBox="0 0 {drawn.width:.1f} {drawn.height:.1f}" font-family="Helvetica,Arial,sans-serif" '
        'role="img" aria-label="State machine graph">',
        "<defs>",
        *(
            f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" '
            f'markerWidth="9" markerHeight="9" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
            for name, colour in (("grey", EDGE_GREY), ("taken", EDGE_TAKEN))
        ),
        "</defs>",
    ]
    for node in drawn.nodes.values():
        if node.frame != node.box:
            colour = colours[outcomes.get(node.name)]
            f = node.frame
            parts.append(
                f'<g class="cluster" id="cluster-{html.escape(node.name)}"><rect x="{f.x:.1f}" y="{f.y:.1f}" '
                f'width="{f.w:.1f}" height="{f.h:.1f}" rx="8" fill="none" stroke="{colour}" '
                'stroke-dasharray="5,4"/></g>'
            )
    for arrow in drawn.arrows:
        parts.append(_arrow(arrow, taken.get((arrow.source, arrow.target), 0)))
    for node in drawn.nodes.values():
        parts.append(_node(node, outcomes.get(node.name), colours, fills))
    # Labels last, over everything, each where it covers no state (and if it can, no other label).
    occupied = [node.box for node in drawn.nodes.values()]
    placed: list[Box] = []
    for arrow in drawn.arrows:
        parts.append(_label(arrow, taken.get((arrow.source, arrow.target), 0), occupied, placed))
    parts.append("</svg>")
    return "\n".join(parts)


def _arrow(arrow: Arrow, count: int) -> str:
    inside_map = arrow.source == arrow.machine and arrow.machine != ""
    style = (
        f'stroke="{EDGE_TAKEN}" stroke-width="2.2" marker-end="url(#arrow-taken)"'
        if count
        else f'stroke="{EDGE_GREY}" stroke-width="1.2" marker-end="url(#arrow-grey)"'
    )
    dash = ' stroke-dasharray="5,3"' if inside_map else ""
    return (
        f'<g class="edge" data-source="{html.escape(arrow.source)}" data-target="{html.escape(arrow.target)}">'
        f'<path d="{_curve(arrow.points)}" fill="none" {style}{dash}/></g>'
    )


# The 9 px edge label font, generously: its glyphs with the white halo round them.
LABEL_CHAR_WIDTH, LABEL_HEIGHT, LABEL_PAD = 5.4, 16.0, 3.0


def _label(arrow: Arrow, count: int, states: list[Box], placed: list[Box]) -> str:
    """An edge's label ("default", "catch ...", the times taken) beside its path: halfway along, or
    the first of a few other places along it, either side, that covers no state and no label
    already placed; failing that, the first that covers no state."""
    words = [label for label in dict.fromkeys(arrow.labels) if label]
    if count:
        words.append(f"×{count}")
    if not words or not arrow.points:
        return ""
    text = " ".join(words)
    width = len(text) * LABEL_CHAR_WIDTH + 2 * LABEL_PAD
    spots = []
    for fraction in (0.5, 0.35, 0.65, 0.2, 0.8, 0.1, 0.9):
        x, y = _along(arrow.points, fraction)
        spots.append(Box(x + 2, y - LABEL_HEIGHT / 2, width, LABEL_HEIGHT))
        spots.append(Box(x - 2 - width, y - LABEL_HEIGHT / 2, width, LABEL_HEIGHT))
    clear = [b for b in spots if not any(b.overlaps(o) for o in states)]
    spot = next((b for b in clear if not any(b.overlaps(o) for o in placed)), (clear or spots)[0])
    placed.append(spot)
    return (
        f'<g class="label" data-source="{html.escape(arrow.source)}" data-target="{html.escape(arrow.target)}">'
        f'<text x="{spot.x + LABEL_PAD:.1f}" y="{spot.y + LABEL_HEIGHT / 2 + 3:.1f}" font-size="9" fill="#424242" '
        f'stroke="#fff" stroke-width="3" paint-order="stroke">{html.escape(text)}</text></g>'
    )


def _node(node: Node, status: str | None, colours: Mapping[str | None, str], fills: Mapping[str | None, str]) -> str:
    b = node.box
    cx, cy = b.centre
    if node.name == START:
        return (
            f'<g class="node" id="start"><circle cx="{cx:.1f}" cy="{cy:.1f}" r="{b.w / 2:.1f}" fill="#eeeeee" '
            f'stroke="#212121" stroke-width="1.5"/><text x="{cx:.1f}" y="{cy + 3:.1f}" font-size="9" '
            'text-anchor="middle">Start</text></g>'
        )
    colour, fill = colours[status], fills[status]
    name = html.escape(node.name)
    if node.frame != node.box:  # a Map's title bar
        body = (
            f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="8" fill="{fill}" '
            f'stroke="{colour}" stroke-width="2"/><text x="{cx:.1f}" y="{cy + 4:.1f}" font-size="11" '
            f'text-anchor="middle">{name} (Map: each item)</text>'
        )
    else:
        body = (
            f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="8" fill="{fill}" '
            f'stroke="{colour}" stroke-width="2"/><text x="{cx:.1f}" y="{cy - 2:.1f}" font-size="11" '
            f'text-anchor="middle">{name}</text><text x="{cx:.1f}" y="{cy + 11:.1f}" font-size="10" '
            f'fill="#616161" text-anchor="middle">({html.escape(node.type)})</text>'
        )
    return f'<g class="node" id="state-{name}"><title>{name}: {status or "not run"}</title>{body}</g>'


def _curve(points: tuple[Point, ...]) -> str:
    """A path through the points, its bends rounded (quadratic curves between segment midpoints)."""
    if not points:
        return ""
    (x0, y0), rest = points[0], points[1:]
    d = [f"M{x0:.1f},{y0:.1f}"]
    for i, (x, y) in enumerate(rest):
        if i == len(rest) - 1:
            d.append(f"L{x:.1f},{y:.1f}")
        else:
            nx, ny = rest[i + 1]
            d.append(f"Q{x:.1f},{y:.1f} {(x + nx) / 2:.1f},{(y + ny) / 2:.1f}")
    return " ".join(d)


def _along(points: tuple[Point, ...], fraction: float) -> Point:
    """The point that far along a path (0: its start, 1: its end)."""
    lengths = [math.dist(a, b) for a, b in itertools.pairwise(points)]
    remaining = sum(lengths) * fraction
    for (a, b), length in zip(itertools.pairwise(points), lengths, strict=True):
        if remaining <= length and length > 0:
            t = remaining / length
            return a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
        remaining -= length
    return points[0]
