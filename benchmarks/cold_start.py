"""Cold start: each handler module's import time in a fresh interpreter, and the deployment package size.

Import time is measured two ways, each the median of several fresh processes: ``-X importtime``
(the interpreter's own per-module clock, minus what a bare ``python -c pass`` imports at startup)
and the wall time of ``python -c 'import tasks.handlers.X'`` minus a bare interpreter start.
Byte-compiled caches are warm here, as in a package built with them; see docs/performance.md.

The package is zipped in memory (nothing is written): ``tasks/`` plus its dependencies that are not
in the Lambda runtime (boto3 and its own), resolved from requirements.txt through the installed
distributions' metadata, with environment markers evaluated for the template's runtime.

    .venv/bin/python benchmarks/cold_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import subprocess
import sys
import time
import zipfile
from collections import Counter, defaultdict
from importlib import metadata
from pathlib import Path

from _common import note, table
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
TARGET_BYTES = 5 * 1000 * 1000
IN_LAMBDA_RUNTIME = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six"}
FALLBACK_ROOTS = ("jsonschema", "requests", "packaging")
# What aws-lambda-builders' python_pip workflow leaves out when it copies CodeUri (EXCLUDED_FILES).
SAM_EXCLUDED = (
    ".aws-sam",
    ".chalice",
    ".git",
    ".gitignore",
    "*.pyc",
    "__pycache__",
    "*.so",
    ".Python",
    "*.egg-info",
    "*.egg",
    "pip-log.txt",
    "pip-delete-this-directory.txt",
    "htmlcov",
    ".tox",
    ".nox",
    ".coverage",
    ".cache",
    ".pytest_cache",
    ".python-version",
    ".mypy_cache",
    ".dmypy.json",
    ".pyre",
    ".env",
    ".venv",
    "venv",
    "venv.bak",
    "env.bak",
    "ENV",
    "env",
    ".vscode",
    ".idea",
)
_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


# -- import time ---------------------------------------------------------------------------------
def handler_modules() -> list[str]:
    return sorted(
        f"tasks.handlers.{p.stem}" for p in (ROOT / "tasks" / "handlers").glob("*.py") if p.stem != "__init__"
    )


def importtime(code: str) -> tuple[float, dict[str, float]]:
    """(ms of every top-level import, self ms per root package) for ``python -X importtime -c code``."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    total, per_package = 0.0, defaultdict[str, float](float)
    for line in done.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if not match:
            continue
        own, cumulative, indent, name = int(match[1]), int(match[2]), match[3], match[4]
        per_package[name.split(".")[0]] += own / 1000
        if len(indent) <= 1:  # a top-level import (nested ones are indented further)
            total += cumulative / 1000
    return total, per_package


def wall_ms(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=60, check=True)
    return (time.perf_counter() - start) * 1000


def import_rows(runs: int) -> list[list[str]]:
    bare_import = statistics.median(importtime("pass")[0] for _ in range(runs))
    bare_wall = statistics.median(wall_ms("pass") for _ in range(runs))
    baseline = importtime("pass")[1]
    rows = []
    references = ["tasks.domain.decide", "boto3", "requests", "jsonschema"]
    for module in handler_modules() + references:
        code = f"import {module}"
        try:
            wall_ms(code)  # the first import of a run may write .pyc files; measure warm ones
        except subprocess.CalledProcessError as e:
            last = (e.stderr or b"").decode(errors="replace").strip().splitlines()[-1:] or ["?"]
            rows.append([module.rsplit(".", 1)[1], "import failed", "-", "", last[0][:80]])
            continue
        timed = [importtime(code) for _ in range(runs)]
        imported = statistics.median(t for t, _ in timed) - bare_import
        wall = statistics.median(wall_ms(code) for _ in range(runs)) - bare_wall
        per_package = timed[len(timed) // 2][1]
        pulls = " ".join(p for p in ("boto3", "requests", "jsonschema") if per_package.get(p, 0) > 0)
        own = {name: ms - baseline.get(name, 0.0) for name, ms in per_package.items()}
        ranked = sorted(own.items(), key=lambda item: -item[1])[:3]
        heaviest = ", ".join(f"{name} {ms:.0f}" for name, ms in ranked if ms >= 1)
        label = module.rsplit(".", 1)[1] if module.startswith("tasks.handlers.") else f"ref: {module}"
        rows.append([label, f"{imported:.0f}", f"{wall:.0f}", pulls, heaviest])
    rows.append(["(bare interpreter)", f"{bare_import:.0f} (startup imports)", f"{bare_wall:.0f} (start)", "", ""])
    return rows


# -- package size --------------------------------------------------------------------------------
def lambda_runtime() -> str:
    template = ROOT / "infra" / "template.yaml"
    found = re.search(r"Runtime:\s*python(\d+\.\d+)", template.read_text()) if template.exists() else None
    return found[1] if found else f"{sys.version_info.major}.{sys.version_info.minor}"


def code_uri() -> tuple[str, Path] | None:
    """The template's CodeUri as written, and the directory it names."""
    template = ROOT / "infra" / "template.yaml"
    found = re.search(r"CodeUri:\s*(\S+)", template.read_text()) if template.exists() else None
    return (found[1], (template.parent / found[1]).resolve()) if found else None


def roots() -> list[str]:
    requirements = ROOT / "requirements.txt"
    if not requirements.exists():
        return list(FALLBACK_ROOTS)
    # The lock (asg_terminator/package_lock.py): "name==version \" lines, then their "--hash=" lines.
    lines = (line.split("#", 1)[0].strip().removesuffix("\\").strip() for line in requirements.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def closure(requirements: list[str], python: str) -> list[str]:
    """Installed distributions the requirements pull in for ``python``, minus the Lambda runtime's own."""
    environment = {str(k): str(v) for k, v in default_environment().items()}
    environment.update(python_version=python, python_full_version=f"{python}.0")
    seen: dict[str, str] = {}
    queue = [Requirement(r) for r in requirements]
    while queue:
        requirement = queue.pop()
        name = canonicalize_name(requirement.name)
        if name in seen or name in IN_LAMBDA_RUNTIME:
            continue
        if requirement.marker and not requirement.marker.evaluate({**environment, "extra": ""}):
            continue
        distribution = metadata.distribution(requirement.name)
        seen[name] = distribution.metadata["Name"]
        queue.extend(Requirement(r) for r in distribution.requires or [])
    return sorted(seen.values(), key=str.lower)


def _excluded(path: Path) -> bool:
    return any(part == "__pycache__" for part in path.parts) or path.suffix == ".pyc"


def _sam_excluded(relative: Path) -> bool:
    import fnmatch

    return any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in SAM_EXCLUDED)


def zipped(entries: list[tuple[str, tuple[str, Path]]]) -> tuple[int, Counter[str], Counter[str]]:
    """(zip bytes, compressed bytes per group, uncompressed bytes per group) for (group, file) entries."""
    buffer = io.BytesIO()
    compressed, raw = Counter[str](), Counter[str]()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for group, (arcname, path) in entries:
            archive.write(path, arcname)
            info = archive.getinfo(arcname)
            compressed[group] += info.compress_size
            raw[group] += info.file_size
    return len(buffer.getvalue()), compressed, raw


def package_entries(distributions: list[str]) -> list[tuple[str, tuple[str, Path]]]:
    entries: list[tuple[str, tuple[str, Path]]] = []
    for path in sorted((ROOT / "tasks").rglob("*")):
        if path.is_file() and not _excluded(path):
            entries.append(("tasks/ (the project)", (str(path.relative_to(ROOT)), path)))
    for name in distributions:
        distribution = metadata.distribution(name)
        for file in distribution.files or []:
            path = Path(str(distribution.locate_file(file)))
            if str(file).startswith("..") or _excluded(Path(str(file))) or not path.is_file():
                continue  # console scripts land outside site-packages; caches are rebuilt
            entries.append((f"{name} {distribution.version}", (str(file), path)))
    return entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per measurement (median)")
    args = parser.parse_args()
    runs = max(1, min(args.runs, 20))

    table(
        f"cold_start.py - import time of each handler module, fresh interpreter, median of {runs} (ms)",
        ["handler", "-X importtime", "wall - bare start", "imports", "heaviest packages (self ms)"],
        import_rows(runs),
        text_columns=(3, 4),
        caption=(
            "-X importtime: sum of top-level imports minus those of `python -c pass`. wall - bare start: "
            "`python -c 'import tasks.handlers.X'` minus `python -c pass`. imports: which of boto3, requests, "
            "jsonschema the module pulls in. ref: rows: a pure domain module and each heavy library alone. "
            "Byte-code caches warm."
        ),
    )

    python = lambda_runtime()
    distributions = closure(roots(), python)
    entries = package_entries(distributions)
    total, compressed, raw = zipped(entries)
    rows = [
        [group, f"{compressed[group] / 1e6:.3f}", f"{raw[group] / 1e6:.3f}", f"{compressed[group] / total:.0%}"]
        for group, _ in compressed.most_common()
    ]
    rows.append(["[b]zip total[/b]", f"[b]{total / 1e6:.3f}[/b]", f"{sum(raw.values()) / 1e6:.3f}", ""])
    verdict = "within" if total <= TARGET_BYTES else "OVER"
    source = "requirements.txt" if (ROOT / "requirements.txt").exists() else "a fixed list"
    table(
        f"deployment package: tasks/ + its non-boto3 dependencies (python{python}), zip in memory - "
        f"{total / 1e6:.2f} MB, {verdict} the 5 MB target",
        ["part", "zipped MB", "unzipped MB", "share of zip"],
        rows,
        caption=(
            f"dependencies resolved from {source} (roots: {', '.join(roots())}) with markers for python {python}; "
            "boto3 and its own dependencies are in the Lambda runtime and left out; __pycache__ left out. "
            f"Compiled wheels (rpds-py) are this machine's ({sys.platform}, cp{sys.version_info.major}"
            f"{sys.version_info.minor}): the target platform's differ a little. MB = 1,000,000 bytes."
        ),
    )
    note(f"largest dependency: {next(g for g, _ in compressed.most_common() if not g.startswith('tasks/'))}")

    found = code_uri()
    if found is not None and found[1] != (ROOT / "tasks").resolve():
        written, uri = found
        copied = [
            (
                p.relative_to(uri).parts[0] if len(p.relative_to(uri).parts) > 1 else "(top-level files)",
                (str(p.relative_to(uri)), p),
            )
            for p in sorted(uri.rglob("*"))
            if p.is_file() and not _sam_excluded(p.relative_to(uri))
        ]
        deps = [e for e in entries if not e[0].startswith("tasks/")]
        as_built, by_dir, raw_dir = zipped(copied + [("(dependencies, as above)", e) for _, e in deps])
        shown = [[d, f"{b / 1e6:.3f}", f"{raw_dir[d] / 1e6:.3f}"] for d, b in by_dir.most_common(8)]
        shown.append(["[b]zip total[/b]", f"[b]{as_built / 1e6:.3f}[/b]", f"{sum(raw_dir.values()) / 1e6:.3f}"])
        table(
            f"the same, as infra/template.yaml packages it: CodeUri {written} ({uri}) "
            f"with aws-lambda-builders' exclusions - {as_built / 1e6:.2f} MB, "
            f"{'within' if as_built <= TARGET_BYTES else 'OVER'} the 5 MB target (this checkout, now)",
            ["top-level entry", "zipped MB", "unzipped MB"],
            shown,
            caption="The 8 largest entries of CodeUri that `sam build` would copy into every function's package.",
        )


if __name__ == "__main__":
    main()
