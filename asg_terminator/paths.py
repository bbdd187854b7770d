"""Where the repository's files are, for the CLI and tests running from a checkout."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE_ASL = ROOT / "state_machines" / "release.asl.json"
SAM_TEMPLATE = ROOT / "infra" / "template.yaml"
