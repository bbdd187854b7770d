"""Where the project's files are: package data wherever the tool is installed, the checkout's own files
only where they are needed (deploy's lock, ``make lock``, the tests).

The ASL (``state_machines/``), the SAM template (``infra/``) and the step schemas (``tasks/schemas/``)
ship in the wheel as package data and are read through ``importlib.resources``, so an installed tool
(``pip install .``, pipx) works from any folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def package_path(package: str, *names: str) -> Path:
    """A package's folder, or a data file in it, of an installed (or checked-out) package, on disk.

    pip installs wheels unpacked, so their files are on disk; a zipped import would not be, and is
    refused here rather than read half-way.
    """
    try:
        found = resources.files(package).joinpath(*names)
    except ModuleNotFoundError as e:  # an editable install from before state_machines/ and infra/ were packages
        raise ModuleNotFoundError(f"{e}: reinstall the project (`make setup`, or `pip install -e .`)") from e
    if not isinstance(found, Path):
        raise RuntimeError(f"{package}: {found!r} is not on disk; install the package unzipped")
    return found


RELEASE_ASL = package_path("state_machines", "release.asl.json")
SAM_TEMPLATE = package_path("infra", "template.yaml")
TASKS = package_path("tasks")
"""The Lambda code package (``tasks/``), as Lambda receives it."""

ROOT = Path(__file__).resolve().parent.parent
"""The checkout holding this package; in an installed wheel, site-packages, which has no checkout files."""
LOCK = ROOT / "requirements.txt"
"""The Lambda package's lock (asg_terminator/package_lock.py); only in a checkout."""


def checkout_file(path: Path) -> Path:
    """``path`` (one of the checkout's own files), or a FileNotFoundError saying that a checkout is needed."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{path.name} not found at {path}: this needs a checkout of asg-terminator "
            "(an installed wheel ships the ASL, the template and the schemas, not the Lambda package's lock)"
        )
    return path
