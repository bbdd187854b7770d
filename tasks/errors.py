"""Every error a task can raise.

For a Python Lambda, Step Functions names the error after the exception's class and matches
``ErrorEquals`` exactly (no subclass matching), so these class names are the state machine's
vocabulary: the ASL only ever names leaf classes from this module, and a test checks that.
The two bases only group the leaves for Python callers; they never appear in the ASL.
"""

from __future__ import annotations


class RetryableError(Exception):
    """A fault that may pass: the ASL retries these leaf names with backoff and jitter."""


class TerminalError(Exception):
    """A fault that retrying cannot fix: the ASG's release fails with this name."""


class AwsThrottledError(RetryableError):
    """An AWS API refused the call for its rate (Throttling, RequestLimitExceeded, ...)."""


class AwsUnavailableError(RetryableError):
    """An AWS API answered with a server-side fault (HTTP 5xx) or could not be reached."""


class InvalidExecutionInputError(TerminalError):
    """The execution input breaks the public input contract; nothing was touched."""


class InvalidStepInputError(TerminalError):
    """A task received input that breaks its step's schema: a defect in the ASL or a hand-made call."""


class InvalidStepOutputError(TerminalError):
    """A task produced output that breaks its step's schema: a defect in the task."""


class AsgNotFoundError(TerminalError):
    """The named Auto Scaling group does not exist (or was deleted mid-release)."""


class AwsRequestError(TerminalError):
    """An AWS API rejected the request for a reason other than rate or availability."""


class FloorBlocksReleaseError(TerminalError):
    """The healthy floor leaves no headroom, so no outdated instance can ever be terminated."""


class ReleaseStalledError(TerminalError):
    """Nothing could be terminated and the ASG did not converge within the replacement timeout."""


class ReplacementTimeoutError(TerminalError):
    """A terminated batch was not replaced by instances serving the target within the timeout."""


class ReleaseFailedError(TerminalError):
    """At least one ASG of the release failed; the message lists every ASG's outcome."""


class UnreleasableEventError(TerminalError):
    """An event reached the state machine that names no release (a key without app/version, say)."""


class AsgLockedError(TerminalError):
    """Another release (still running) holds this ASG: two releases never work on one ASG at once."""


class AlarmTriggeredError(TerminalError):
    """A CloudWatch alarm the release watches (alarm_names) is in ALARM: nothing more is terminated."""


class AlarmNotFoundError(TerminalError):
    """A name in alarm_names is no CloudWatch alarm: the ASG fails before its first termination."""


class ReleaseRejectedError(TerminalError):
    """A human rejected the release at a checkpoint (`asg-terminator reject`): nothing more is terminated."""


class NothingToRollBackError(TerminalError):
    """rollback_on_failure, but no version other than the target ran when the release started."""


class AsgSkippedError(TerminalError):
    """A start that skips held ASGs (a scheduled sweep; an upload of the version already being released)
    met an ASG another running release holds, or a sweep found no uploaded build (nor pin) to release an
    ASG to: that ASG's outcome is SKIPPED, which fails nothing."""


class LeaseLostError(TerminalError):
    """This release no longer holds the ASG's lease (another release, or Cleanup after a stop, took it):
    the fleet change it was about to make was not made, and none will be."""


class ContinuationTakenError(TerminalError):
    """The name the chain's next execution must have is taken by an execution that does not continue
    this one: the leases are not handed over, and the release ends here (Cleanup gives the ASGs back)."""


class AsgNotOptedInError(TerminalError):
    """The ASG carries neither ``asg-terminator:enabled=true`` nor a non-empty ``asg-terminator:app``:
    no release touches it (checked in code as well as by IAM), and nothing was changed."""


class InvalidAsgTagError(TerminalError):
    """A guardrail tag on the ASG (``asg-terminator:min-healthy``, ``asg-terminator:min-healthy-percent``)
    is malformed: that ASG fails, naming the tag, before anything is touched."""


class DowngradeRefusedError(TerminalError):
    """The target is older than the version most serving instances run, and ``allow_downgrade`` is not
    set: nothing was terminated."""


class InvalidSettingsError(TerminalError):
    """The function's environment (a stack parameter) is unusable, e.g. an ``ArtifactKeyPattern`` that
    does not compile or lacks a named group: every invocation fails, before any AWS call, until the
    stack is fixed."""


class CanaryAnalysisFailedError(TerminalError):
    """At a checkpoint, the canary's metrics judged against the baseline's scored below marginal_score, or
    a critical metric failed (canary_analysis): nothing more is terminated; the message names each failed
    metric with both medians, the shift and the p-value."""
