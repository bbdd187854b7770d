"""The Lambda package is reproducible: requirements.txt locks every dependency it ships, with hashes,
matching pyproject.toml; `deploy` installs exactly that, refusing any file whose hash differs."""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import zipfile
from importlib import metadata
from typing import TYPE_CHECKING

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from asg_terminator import package_lock
from asg_terminator.deploy import LAMBDA_PYTHON, code_zip, install_dependencies

if TYPE_CHECKING:
    from pathlib import Path

LOCK = package_lock.parse(package_lock.LOCK.read_text(encoding="utf-8"))
ROOT_VIA = f"-r {package_lock.ROOTS_INPUT}"
# Where the functions run (infra/template.yaml: arm64, python3.12), for dependency markers.
LAMBDA_ENVIRONMENT = {
    **{str(k): str(v) for k, v in default_environment().items()},
    "python_version": LAMBDA_PYTHON,
    "python_full_version": f"{LAMBDA_PYTHON}.0",
    "platform_machine": "aarch64",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "extra": "",
}


def test_the_lock_is_made_from_the_pyproject_dependencies_the_lambda_code_imports() -> None:
    roots = package_lock.lambda_roots()
    assert {canonicalize_name(r.name) for r in roots} >= {"jsonschema", "requests", "packaging"}
    assert LOCK.roots == tuple(str(r) for r in roots), "requirements.txt is stale: run `make lock`"
    for root in roots:
        pin = LOCK.pins[canonicalize_name(root.name)]
        assert root.specifier.contains(pin.version, prereleases=True), f"{pin.name}=={pin.version} breaks {root}"
        assert ROOT_VIA in pin.via
    assert {p.name for p in LOCK.pins.values() if ROOT_VIA in p.via} == {canonicalize_name(r.name) for r in roots}


def test_every_distribution_the_lambda_code_imports_ships_or_is_in_the_runtime() -> None:
    for name in package_lock.imported_distributions():
        assert name in LOCK.pins or name in package_lock.IN_LAMBDA_RUNTIME, f"tasks/ imports {name}: not locked"
    assert not package_lock.IN_LAMBDA_RUNTIME & set(LOCK.pins), "the runtime's own boto3 would be shadowed"


def test_every_pin_has_hashes_and_the_lock_names_no_index() -> None:
    assert LOCK.pins and LOCK.options == ()  # no machine's --index-url / --find-links
    for pin in LOCK.pins.values():
        assert pin.hashes and all(h.startswith("sha256:") and len(h) == len("sha256:") + 64 for h in pin.hashes)


def test_the_lock_is_closed_and_holds_nothing_unrequired() -> None:
    """Every dependency of a pinned release (its markers for the Lambda runtime) is pinned too, and
    everything pinned is required by a root. Read from the installed releases where they are the
    pinned ones, else from the lock's own annotations."""
    required: dict[str, set[str]] = {}
    for pin in LOCK.pins.values():
        try:
            installed = metadata.distribution(pin.name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed is not None and installed.version == pin.version:
            wanted = [Requirement(r) for r in installed.requires or []]
            required[pin.name] = {
                canonicalize_name(r.name) for r in wanted if r.marker is None or r.marker.evaluate(LAMBDA_ENVIRONMENT)
            }
        for parent in pin.via:
            if parent != ROOT_VIA:
                required.setdefault(parent, set()).add(pin.name)
    for parent, children in required.items():
        assert parent in LOCK.pins, f"{parent} is named as a dependent but not locked"
        missing = children - set(LOCK.pins) - package_lock.IN_LAMBDA_RUNTIME
        assert not missing, f"{parent} needs {sorted(missing)}, not in the lock"
    reached, queue = set(), [p.name for p in LOCK.pins.values() if ROOT_VIA in p.via]
    while queue:
        name = queue.pop()
        if name not in reached:
            reached.add(name)
            queue.extend(required.get(name, ()))
    assert reached == set(LOCK.pins), f"locked but never required: {sorted(set(LOCK.pins) - reached)}"


def test_a_lock_line_without_a_pin_is_refused() -> None:
    with pytest.raises(ValueError, match="not pinned with =="):
        package_lock.parse("requests>=2.31 \\\n    --hash=sha256:" + "0" * 64 + "\n")


# -- deploy installs the lock, and only what it locks -------------------------------------------


def wheel(folder: Path, name: str = "lockdemo", version: str = "1.0") -> Path:
    """A minimal pure-Python wheel, built here: the index these installs use is this folder."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"VALUE = 1\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [
        f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode()},{len(b)}"
        for p, b in files.items()
    ]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    with zipfile.ZipFile(path, "w") as archive:
        for p, b in files.items():
            archive.writestr(p, b)
    return path


def install(tmp_path: Path, lock_text: str) -> Path:
    lock = tmp_path / "requirements.txt"
    lock.write_text(lock_text, encoding="utf-8")
    target = tmp_path / "package"
    install_dependencies(target, lock, index=["--no-index", "--find-links", str(tmp_path / "wheels")])
    return target


@pytest.fixture
def built(tmp_path: Path) -> str:
    (tmp_path / "wheels").mkdir()
    return hashlib.sha256(wheel(tmp_path / "wheels").read_bytes()).hexdigest()


def test_deploy_installs_the_locked_file_into_the_package(tmp_path: Path, built: str) -> None:
    target = install(tmp_path, f"lockdemo==1.0 \\\n    --hash=sha256:{built}\n")

    assert (target / "lockdemo" / "__init__.py").read_text() == "VALUE = 1\n"
    with zipfile.ZipFile(io.BytesIO(code_zip(target))) as package:
        assert "lockdemo/__init__.py" in package.namelist() and "tasks/runtime.py" in package.namelist()


def test_deploy_refuses_a_file_whose_hash_is_not_the_locked_one(
    tmp_path: Path, built: str, capfd: pytest.CaptureFixture[str]
) -> None:
    other = hashlib.sha256(b"another build of lockdemo 1.0").hexdigest()

    with pytest.raises(subprocess.CalledProcessError):
        install(tmp_path, f"lockdemo==1.0 \\\n    --hash=sha256:{other}\n")

    assert "DO NOT MATCH THE HASHES" in capfd.readouterr().err
    assert not (tmp_path / "package" / "lockdemo").exists()


def test_deploy_refuses_a_lock_without_hashes(tmp_path: Path, built: str, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(subprocess.CalledProcessError):
        install(tmp_path, "lockdemo==1.0\n")

    assert "--require-hashes" in capfd.readouterr().err
    assert not (tmp_path / "package" / "lockdemo").exists()
