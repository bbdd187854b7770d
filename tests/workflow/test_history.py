"""The execution history, read back from a real release: terminal table and HTML page in Chromium."""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from rich.console import Console

from asg_terminator import asl_walk, history, history_html
from asg_terminator.paths import ROOT
from asg_terminator.progress import history_counts, states_table

if TYPE_CHECKING:
    from playwright.sync_api import Locator

    from tests.workflow.conftest import World

OLD, NEW = "1.0.266", "1.0.274"
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def mixed_release(world: World) -> history.ExecutionView:
    """One ASG converges, one fails (its only instance is the floor): every outcome colour."""
    world.fleet(build=NEW)
    world.asg("web", 2, OLD)
    world.asg("api", 1, OLD)
    execution, _ = world.release({"asg_names": ["web", "api"], "target_version": NEW, "min_healthy": 1})
    assert execution.status == "FAILED"
    return history.load(world.sfn, execution.arn)


def test_the_fleet_counts_come_from_the_last_fleet_read_in_the_history(mixed_release: history.ExecutionView) -> None:
    web = history_counts(mixed_release, "web")
    assert web is not None and (web.desired, web.old, web.new) == (2, 0, 2)  # records leave InService unsaid
    api = history_counts(mixed_release, "api")
    assert api is not None and (api.desired, api.old, api.new) == (1, 1, 0)
    assert history_counts(mixed_release, "jobs") is None


def test_runs_are_paired_per_iteration_even_when_parallel(mixed_release: history.ExecutionView) -> None:
    view = mixed_release
    web = [r.name for r in view.runs if r.asg_name == "web"]
    api = [r.name for r in view.runs if r.asg_name == "api"]
    assert web[:7] == [
        "LockUnlessDryRun",
        "LockAsg",
        "Discover",
        "ReadVersions",
        "SelectBatch",
        "BatchDecision",
        "Drain",
    ]
    # the last batch's check read the fleet that SelectBatch found converged
    assert web[-5:] == ["ReplacementDone", "SelectBatch", "BatchDecision", "AsgConverged", "UnlockAsg"]
    assert api == [
        "LockUnlessDryRun",
        "LockAsg",
        "Discover",
        "ReadVersions",
        "SelectBatch",
        "RollBackOnFailure",  # without rollback_on_failure: straight on to AsgFailed
        "AsgFailed",
        "UnlockAsg",
    ]
    caught = next(r for r in view.runs if r.asg_name == "api" and r.name == "SelectBatch")
    assert caught.status == history.CAUGHT and caught.error == "FloorBlocksReleaseError"
    summarize = next(r for r in view.runs if r.name == "Summarize")
    assert summarize.status == history.FAILED and summarize.error == "ReleaseFailedError"
    assert all(r.exited is not None for r in view.runs if r.name != "Summarize")
    assert view.transitions()[("SelectBatch", "RollBackOnFailure")] == 1
    assert view.state_outcomes()["AsgConverged"] == history.SUCCEEDED


def test_terminal_table_lists_every_state_run(mixed_release: history.ExecutionView) -> None:
    console = Console(record=True, width=200)
    console.print(states_table(mixed_release))
    text = console.export_text()
    assert text.count("SelectBatch") == sum(1 for r in mixed_release.runs if r.name == "SelectBatch")
    assert "FloorBlocksReleaseError" in text and "ReleaseFailedError" in text


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _graphviz_trap(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `dot` first on PATH that records being run: the page must be drawn without Graphviz,
    whether or not the machine has it (CI does not)."""
    called = folder / "dot-was-called"
    fake = folder / "dot"
    fake.write_text(f'#!/bin/sh\necho "$@" >> "{called}"\nexit 1\n', encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    assert shutil.which("dot") == str(fake)
    return called


def test_history_page_renders_graph_path_and_events_in_chromium(
    mixed_release: history.ExecutionView, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chromium = _chromium()
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install chromium (see .ci/run)")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    dot_called = _graphviz_trap(tmp_path, monkeypatch)
    ARTIFACTS.mkdir(exist_ok=True)
    page_file = ARTIFACTS / "history-test.html"
    page_file.write_text(history_html.render(mixed_release), encoding="utf-8")
    assert "http://" not in page_file.read_text().split("<body>")[0], "the page must need no network"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_file.resolve().as_uri())
        page.screenshot(path=str(ARTIFACTS / "history-test.png"), full_page=False)

        states = [name for name, _ in asl_walk.states(mixed_release.definition)]
        nodes = page.locator("#graph svg g.node")
        assert nodes.count() == len(states) + 1  # and the Start node
        for name in ("start", "state-RouteInput", "state-ReleaseEachAsg", "state-SelectBatch", "state-Released"):
            assert page.locator(f"#graph svg g#{name}").is_visible(), name
        boxes = [page.locator(f"#graph svg g#state-{name} rect").bounding_box() for name in states]
        assert all(box is not None and box["width"] > 40 and box["height"] > 15 for box in boxes)
        failed = page.locator("#graph svg g#state-AsgFailed rect")
        assert failed.get_attribute("stroke") == history_html.COLOURS[history.SUCCEEDED]  # the Pass itself ran fine
        caught = page.locator("#graph svg g#state-SelectBatch rect")
        assert caught.get_attribute("stroke") == history_html.COLOURS[history.CAUGHT]
        not_run = page.locator("#graph svg g#state-NothingToRelease rect")
        assert not_run.get_attribute("stroke") == history_html.COLOURS[None]
        taken = page.locator('#graph svg g.label[data-source="SelectBatch"][data-target="RollBackOnFailure"]')
        assert (taken.text_content() or "").endswith("×1")
        # As the browser measures them: no two states overlap, and no edge label covers a state.
        drawn = [_box(page.locator(f"#graph svg g#state-{name} rect")) for name in states]
        labels = page.locator("#graph svg g.label text")
        assert labels.count() > 10
        for one, other in itertools.combinations(drawn, 2):
            assert not _overlap(one, other), (one, other)
        for i in range(labels.count()):
            label = _box(labels.nth(i))
            covered = [name for name, state in zip(states, drawn, strict=True) if _overlap(label, state)]
            assert not covered, (labels.nth(i).text_content(), label, covered)
        rows = page.locator("#events tr.event")
        assert rows.count() == len(mixed_release.events)
        assert page.locator("#states tr.run.caught").count() >= 1
        first_input = page.locator("#states details").first
        first_input.locator("summary").click()
        assert '"asg_names"' in first_input.locator("pre").inner_text()
        assert page.locator(".timeline .bar").count() == len(mixed_release.runs)
        browser.close()
    assert all(url.startswith("file://") for url in requests), requests
    assert Path(ARTIFACTS / "history-test.png").stat().st_size > 10_000
    assert not dot_called.exists(), f"the page ran Graphviz: {dot_called.read_text()}"


def _box(locator: Locator) -> tuple[float, float, float, float]:
    box = locator.bounding_box()
    assert box is not None
    return box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
