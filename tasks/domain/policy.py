"""The release settings that shape decisions for one ASG (a subset of the execution input)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tasks.domain.checkpoints import Checkpoints

if TYPE_CHECKING:
    from tasks.domain.assess import Assessment
    from tasks.domain.fleet import Progress


@dataclass(frozen=True)
class Policy:
    """The release settings that shape decisions (a subset of the execution input). No field has a
    default here: a policy is built from settings ValidateInput completed with the input schema's
    defaults (tasks/schemas/validate_input.input.json, the one place they are written)."""

    target_version: str | None
    min_healthy: int
    min_healthy_percent: int
    max_batch: int | None
    replace_unreadable: bool
    replacement_timeout_seconds: int
    healthy_for_seconds: int  # a replacement serves once every check this long saw it serving
    poll_seconds: int
    dry_run: bool
    standby_instances: str  # replace | ignore | wait
    protected_instances: str  # replace | ignore | wait (scale-in protected instances)
    checkpoints: tuple[int | str, ...]  # counts or percentages of the instances to replace
    bake_seconds: int
    approve_checkpoints: bool
    allow_downgrade: bool  # a target older than what most serving instances run
    canary_analysis: bool  # a checkpoint names the canary and the baseline to compare
    rolling_back: bool  # set by during(), never by the input

    def during(self, progress: Progress) -> Policy:
        """The policy for this ledger: a rollback has no checkpoints and replaces instances whose
        version cannot be read (a broken build often answers nothing), under the same floor."""
        if progress.rollback_of is None:
            return self
        return replace(self, checkpoints=(), approve_checkpoints=False, replace_unreadable=True, rolling_back=True)

    def checkpoints_of(self, progress: Progress, view: Assessment) -> Checkpoints:
        """Percentages are of the instances the release replaces: those it has replaced, and those
        this read says it still will (instances a policy leaves alone are not among them)."""
        remaining = len(view.candidates) + len(view.standby) + len(view.held)
        base = progress.terminated_count + remaining
        return Checkpoints.of(self.checkpoints, base, progress.checkpoints_passed, progress.terminated_count)

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Policy:
        """``settings``: the whole settings record (see tasks/contracts.py ``settings``)."""
        derived: dict[str, Any] = {
            "checkpoints": tuple(settings["checkpoints"]),
            "canary_analysis": settings["canary_analysis"] is not None,
            "rolling_back": False,
        }
        return cls(**{k: derived[k] if k in derived else settings[k] for k in cls.__dataclass_fields__})
