"""The release state machine, written once: ``make asl`` (``python -m state_machines.build``) renders it
into ``release.asl.json``.

The JSON stays committed, because SAM deploys it and a reviewer reads a change to the workflow in its
diff; tests/infra/test_asl_builder.py fails when the committed file differs from this rendering. How a
Lambda Task retries, where its failure goes and the shape of a Task are each written once here, and the
states are composed from them in the order an ASG's release runs them. The stretches of the workflow
that the history budget charges are named here too (``PATHS``): ``make asl`` writes their states into
``tasks/domain/asl_paths.py``, from which ``tasks/domain/history_budget.py`` counts their events.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any, Final

from tasks.domain.fleet import Action, Progress
from tasks.domain.watch import TASK_TIMEOUT_SECONDS as WATCHING_TIMEOUT
from tasks.errors import AsgSkippedError, AwsThrottledError, AwsUnavailableError

State = dict[str, Any]
Named = tuple[str, State]
Walk = tuple[Named, ...]

ASL: Final = Path(__file__).with_name("release.asl.json")
ASL_PATHS: Final = Path(__file__).resolve().parent.parent / "tasks" / "domain" / "asl_paths.py"
"""The stretches' states for the Lambda package, which must not import this package."""

END: Final = None
"""``then=END``: the state ends its machine (the execution, or one ASG's iteration of the Map)."""

# How a Lambda Task retries: the errors the adapters turn AWS's throttling and outages into
# (tasks/adapters/aws_errors.py), then the Lambda service's own. Never States.ALL or States.TaskFailed:
# that would retry bad input.
AWS_BUSY: Final[State] = {
    "ErrorEquals": [AwsThrottledError.__name__, AwsUnavailableError.__name__],
    "IntervalSeconds": 2,
    "MaxAttempts": 6,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 30,
    "JitterStrategy": "FULL",
}
LAMBDA_SERVICE: Final[State] = {
    "ErrorEquals": [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ],
    "IntervalSeconds": 2,
    "MaxAttempts": 3,
    "BackoffRate": 2.0,
    "JitterStrategy": "FULL",
}
RETRY: Final = (AWS_BUSY, LAMBDA_SERVICE)


def catch(then: str, into: str = "$.failure", error: str = "States.ALL") -> State:
    """Where a Task's error goes: its Error and Cause land at ``into``, and the state ``then`` runs."""
    return {"ErrorEquals": [error], "ResultPath": into, "Next": then}


FAIL_THE_ASG: Final = catch("RollBackOnFailure")
"""Any error in an ASG's loop: the ASG rolls back when asked, else fails; the other ASGs go on."""


def inputs(**paths: str) -> State:
    """A state's Parameters taken from its input: ``inputs(asg_name="$.asg_name")``."""
    return {f"{key}.$": path for key, path in paths.items()}


def _state(kind: str, comment: str | None) -> State:
    return {"Type": kind} | ({"Comment": comment} if comment else {})


def _then(state: State, then: str | None) -> State:
    return state | ({"End": True} if then is END else {"Next": then})


def task(
    name: str,
    comment: str,
    *,
    parameters: State | None = None,
    result_path: str | None = "$",
    timeout: int = 60,
    retry: tuple[State, ...] = RETRY,
    catches: tuple[State, ...] = (),
    waits_for_callback: bool = False,
    then: str | None,
) -> Named:
    """A Task that runs the step's own function, ``${NameFunctionArn}`` (SAM substitutes it).

    ``result_path`` "$" (the output replaces the input) is Step Functions' default and is left out;
    ``timeout`` is how long the state waits for one try of its function. A callback task invokes the
    function with its ``parameters`` as the payload and holds until the task token it carries is
    answered (or its timeout passes).
    """
    function = f"${{{name}FunctionArn}}"
    state = _state("Task", comment)
    if waits_for_callback:
        state["Resource"] = "arn:aws:states:::lambda:invoke.waitForTaskToken"
        state["Parameters"] = {"FunctionName": function, "Payload": parameters}
    else:
        state["Resource"] = function
        if parameters is not None:
            state["Parameters"] = parameters
    if result_path != "$":
        state["ResultPath"] = result_path
    state |= {"TimeoutSeconds": timeout, "Retry": list(retry)}
    if catches:
        state["Catch"] = list(catches)
    return name, _then(state, then)


def choice(name: str, comment: str | None, rules: list[State], *, default: str) -> Named:
    return name, _state("Choice", comment) | {"Choices": rules, "Default": default}


def when(condition: State, then: str) -> State:
    """A Choice rule: ``then`` runs when ``condition`` holds."""
    return condition | {"Next": then}


def present(path: str) -> State:
    return {"Variable": path, "IsPresent": True}


def true(path: str) -> State:
    return {"Variable": path, "BooleanEquals": True}


def null(path: str) -> State:
    return {"Variable": path, "IsNull": True}


def equals(path: str, value: str) -> State:
    return {"Variable": path, "StringEquals": value}


def above(path: str, value: int) -> State:
    return {"Variable": path, "NumericGreaterThan": value}


def all_of(*conditions: State) -> State:
    return {"And": list(conditions)}


def any_of(*conditions: State) -> State:
    return {"Or": list(conditions)}


def not_(condition: State) -> State:
    return {"Not": condition}


def decided(action: Action) -> State:
    """SelectBatch's (or PassCheckpoint's) decision was ``action``."""
    return equals("$.progress.decision.action", action.value)


def wait(name: str, comment: str | None, *, seconds_path: str, then: str) -> Named:
    return name, _state("Wait", comment) | {"SecondsPath": seconds_path, "Next": then}


def pass_(name: str, comment: str, *, parameters: State, then: str | None) -> Named:
    return name, _then(_state("Pass", comment) | {"Parameters": parameters}, then)


def succeed(name: str, comment: str) -> Named:
    return name, _state("Succeed", comment)


# What an ASG's outcome leaves out of its ledger (Progress) in the Map's output, which Summarize reads:
# the pending batch and this execution's history share (the loop's own), and what only the chain's next
# execution needs (CHAIN_ONLY: the launched ids, up to 100 per ASG, a canary is chosen among; the
# surge's count; the shortest replacement measured), which a continuing ASG's outcome carries too.
# The outcome carries the rest, the decision only in a dry run (with every instance's verdict, it is
# what the run planned). common.json's outcome_progress is checked against it
# (tests/unit/test_ledger_definition.py).
CHAIN_ONLY: Final = ("launched", "surge_paid", "boot_seconds")
NOT_IN_OUTCOME: Final = ("pending", "events_budget", *CHAIN_ONLY)
LEDGER: Final = tuple(field.name for field in fields(Progress) if field.name not in NOT_IN_OUTCOME)
SMALL_OUTCOME: Final = (
    "The outcome carries the ledger without its pending batch and decision, so the Map's output stays small."
)


def outcome(
    name: str,
    status: str,
    comment: str,
    *,
    error: bool = False,
    decision: bool = False,
    chain: bool = False,
    then: str | None,
) -> Named:
    """An ASG's outcome (its ``status``, with the error it failed with), as Summarize reads it.
    ``chain``: the ASG goes on in the chain's next execution, which takes CHAIN_ONLY over too."""
    fields = [field for field in LEDGER if decision or field != "decision"] + list(CHAIN_ONLY if chain else ())
    parameters: State = {"asg_name.$": "$.asg_name", "status": status}
    if error:
        parameters |= inputs(error="$.failure.Error", cause="$.failure.Cause")
    parameters |= {"release_id.$": "$.release_id", "progress": inputs(**{f: f"$.progress.{f}" for f in fields})}
    return pass_(name, comment, parameters=parameters, then=then)


# The execution: an event or a console input becomes a validated input.
ROUTE_INPUT: Final = choice(
    "RouteInput",
    "An EventBridge event (S3 upload, schedule) is resolved first; the console input goes straight to validation.",
    [when(present("$.source"), "ResolveEvent")],
    default="ValidateInput",
)
RESOLVE_EVENT: Final = task(
    "ResolveEvent",
    "Turn the event into ASG names (by opt-in tag) and a target version.",
    timeout=30,
    then="AnythingToRelease",
)
ANYTHING_TO_RELEASE: Final = choice(
    "AnythingToRelease", None, [when(present("$.asg_names[0]"), "ValidateInput")], default="NothingToRelease"
)
NOTHING_TO_RELEASE: Final = succeed("NothingToRelease", "No ASG carries the opt-in tag for this event.")
VALIDATE_INPUT: Final = task(
    "ValidateInput",
    "Check the execution input against its schema and apply defaults; bad input fails here, before anything is "
    "touched.",
    timeout=30,
    then="ReleaseEachAsg",
)

# One ASG: take it (a dry run takes nothing) ...
LOCK: Final = (
    choice(
        "LockUnlessDryRun",
        "A dry run terminates nothing, so it takes no lock and is never blocked by a running release.",
        [when(true("$.settings.dry_run"), "Discover")],
        default="LockAsg",
    ),
    task(
        "LockAsg",
        "One release per ASG at a time: a conditional write takes the ASG's lease (the lease table), and every "
        "later change to the fleet is fenced by it. Then the processes in suspend_processes are suspended and "
        "max_surge raises desired capacity (UnlockAsg gives both back).",
        parameters=inputs(
            asg_name="$.asg_name", release_id="$.release_id", takes_over="$.takes_over", settings="$.settings"
        ),
        result_path=None,
        timeout=30,
        catches=(catch("AsgSkipped", error=AsgSkippedError.__name__), catch("AsgFailed")),
        then="Discover",
    ),
)
# ... read its fleet and decide ...
READ: Final = (
    task(
        "Discover",
        "Capacity, and every instance's lifecycle state, health, zone, launch time and version URL, stored in the "
        "stack's fleet bucket: $.fleet is its key (a claim check), so no payload grows with the ASG.",
        parameters=inputs(asg_name="$.asg_name", release_id="$.release_id", version_url="$.settings.version_url"),
        result_path="$.fleet",
        catches=(FAIL_THE_ASG,),
        then="ReadVersions",
    ),
    task(
        "ReadVersions",
        "GET /version of every InService instance, concurrently, each bounded in time and size; the fleet is read "
        "from the bucket and stored back with its versions ($.fleet: the new key).",
        parameters=inputs(fleet="$.fleet", probe_timeout_seconds="$.settings.probe_timeout_seconds"),
        result_path="$.fleet",
        catches=(FAIL_THE_ASG,),
        then="SelectBatch",
    ),
    task(
        "SelectBatch",
        "Outdated serving instances, oldest first, spread over zones, never below the healthy floor. It reads the "
        "fleet from the bucket; its output is the ASG's state without the fleet's key, which a terminate decision "
        "names for CheckReplacement.",
        parameters=inputs(
            asg_name="$.asg_name",
            release_id="$.release_id",
            settings="$.settings",
            progress="$.progress",
            fleet="$.fleet",
        ),
        catches=(FAIL_THE_ASG,),
        then="BatchDecision",
    ),
    choice(
        "BatchDecision",
        None,
        [
            when(all_of(true("$.settings.dry_run"), not_(decided(Action.CONVERGED))), "AsgPlanned"),
            when(decided(Action.TERMINATE), "Drain"),
            when(decided(Action.CONVERGED), "AsgConverged"),
            when(decided(Action.CHECKPOINT), "Bake"),
            when(decided(Action.CONTINUE), "AsgContinues"),
            when(all_of(decided(Action.WAIT), present("$.progress.decision.watch[0]")), "WatchBooting"),
        ],
        default="WaitBeforeReread",
    ),
)
DECIDE: Final = READ[2:]
"""The decision on a read CheckReplacement made (it saw a batch replaced): no Discover, no ReadVersions."""
# ... terminate a batch ...
TERMINATE: Final = (
    task(
        "Drain",
        "Take the batch out of the ASG's target groups (none: nothing to do); WaitForDraining waits out the "
        "deregistration delay.",
        parameters=inputs(
            asg_name="$.asg_name",
            release_id="$.release_id",
            progress="$.progress",
            alarm_names="$.settings.alarm_names",
        ),
        result_path="$.drain",
        catches=(FAIL_THE_ASG,),
        then="WaitForDraining",
    ),
    wait(
        "WaitForDraining",
        "Connections in flight complete before the batch is terminated.",
        seconds_path="$.drain.seconds",
        then="Terminate",
    ),
    task(
        "Terminate",
        "TerminateInstanceInAutoScalingGroup, keeping desired capacity, so the ASG launches replacements (lowering "
        "it instead for instances a surge already replaced).",
        parameters=inputs(
            asg_name="$.asg_name",
            release_id="$.release_id",
            progress="$.progress",
            alarm_names="$.settings.alarm_names",
            pin_parameter="$.settings.pin_parameter",
            poll_seconds="$.settings.poll_seconds",
        ),
        result_path="$.progress",
        catches=(FAIL_THE_ASG,),
        then="WaitForReplacement",
    ),
)
ASG_STATE: Final = inputs(
    asg_name="$.asg_name", release_id="$.release_id", settings="$.settings", progress="$.progress"
)
"""What the checking Tasks take, the ASG's state, which they return (with the read they made, $.fleet)."""
# ... check its replacements until they serve, then read again.
POLL: Final = (
    wait(
        "WaitForReplacement",
        "The first check comes a poll before the shortest replacement the release has measured would end (at once "
        "when nothing launches, after poll_seconds before any was measured), the later ones every poll_seconds "
        "(less what the check before spent watching).",
        seconds_path="$.progress.pending.wait_seconds",
        then="CheckReplacement",
    ),
    task(
        "CheckReplacement",
        "Done when the batch has left, InService+Healthy >= desired and every newcomer serves the target. When "
        "the batch waits only for its replacements to boot, the check watches them for up to poll_seconds and "
        "sees the boot end (the next Wait is then the rest of the poll). Its output is the ASG's state; once the "
        "batch is replaced, with the key of the read that saw it ($.fleet).",
        parameters=ASG_STATE,
        timeout=WATCHING_TIMEOUT,
        catches=(FAIL_THE_ASG,),
        then="ReplacementDone",
    ),
    choice(
        "ReplacementDone",
        "Replaced: SelectBatch decides on the read that saw it ($.fleet), with no Discover and ReadVersions between.",
        [when(null("$.progress.pending"), "SelectBatch")],
        default="WaitForReplacement",
    ),
)
WAIT_BEFORE_REREAD: Final = wait("WaitBeforeReread", None, seconds_path="$.settings.poll_seconds", then="Discover")
"""SelectBatch chose to wait (nothing can be terminated yet): read again after a poll."""
WATCH: Final = (
    task(
        "WatchBooting",
        "SelectBatch waits for instances that are booting (a surge, or any that would lift the floor): probe them "
        "for up to poll_seconds and, as soon as each has answered, read the fleet again (when its timeout leaves "
        "room for as long a read as the one the decision saw). It changes nothing; should it fail, the wait is "
        "WaitBeforeReread's. Its output is the ASG's state.",
        parameters=ASG_STATE,
        timeout=WATCHING_TIMEOUT,
        catches=(catch("WaitBeforeReread", into="$.booting_failure"),),
        then="BootsEnded",
    ),
    choice(
        "BootsEnded",
        "Each answered and the watch read the fleet again: SelectBatch decides on that read ($.fleet).",
        [when(present("$.fleet"), "SelectBatch")],
        default="WaitAfterWatching",
    ),
    wait(
        "WaitAfterWatching",
        "What is left of the poll when not all answered (0 when each did), then Discover reads again.",
        seconds_path="$.booting.rest_seconds",
        then="Discover",
    ),
)
# A checkpoint: bake, judge, and ask a human when asked to.
CHECKPOINT: Final = (
    wait(
        "Bake",
        "A checkpoint (checkpoints): the replaced instances serve for bake_seconds before the release goes on.",
        seconds_path="$.settings.bake_seconds",
        then="PassCheckpoint",
    ),
    task(
        "PassCheckpoint",
        "The bake is over: a watched alarm in ALARM fails the ASG here; with canary_analysis the canary's metrics "
        "over the bake are judged against the baseline's (FAIL: CanaryAnalysisFailedError; MARGINAL: the decision "
        "becomes approval); otherwise the checkpoint counts as passed.",
        parameters=inputs(
            asg_name="$.asg_name",
            progress="$.progress",
            alarm_names="$.settings.alarm_names",
            canary_analysis="$.settings.canary_analysis",
            bake_seconds="$.settings.bake_seconds",
            approve_checkpoints="$.settings.approve_checkpoints",
            event_bus_name="$.settings.event_bus_name",
        ),
        result_path="$.progress",
        catches=(FAIL_THE_ASG,),
        then="ApprovalRequired",
    ),
    choice(
        "ApprovalRequired",
        "A human decides with approve_checkpoints, and whenever the canary was MARGINAL (PassCheckpoint's decision "
        "approval).",
        [
            when(true("$.settings.approve_checkpoints"), "AwaitApproval"),
            when(decided(Action.APPROVAL), "AwaitApproval"),
        ],
        default="Discover",
    ),
    task(
        "AwaitApproval",
        "Waits for `asg-terminator approve EXECUTION_ARN` (or `reject`: ReleaseRejectedError) with the callback "
        "token that only a callback task has; unanswered for a day, States.Timeout. The function only says that the "
        "release waits.",
        waits_for_callback=True,
        parameters=inputs(
            task_token="$$.Task.Token",
            asg_name="$.asg_name",
            release_id="$.progress.release_id",
            execution_id="$$.Execution.Id",
            message="$.progress.decision.message",
            event_bus_name="$.settings.event_bus_name",
            rollback_on_failure="$.settings.rollback_on_failure",
        ),
        result_path="$.approval",
        timeout=86400,
        # Its function calls AWS only to notify, and a notification lost to AWS is logged, never raised.
        retry=(LAMBDA_SERVICE,),
        catches=(FAIL_THE_ASG,),
        then="Discover",
    ),
)
# A failure after instances were terminated: roll back when asked, once.
ROLLBACK: Final = (
    choice(
        "RollBackOnFailure",
        "An ASG that failed after terminating instances rolls back when asked (rollback_on_failure), once: a "
        "failed rollback is a failure.",
        [
            when(
                all_of(
                    true("$.settings.rollback_on_failure"),
                    null("$.progress.rollback_of"),
                    any_of(present("$.progress.batches[0]"), above("$.progress.earlier_terminated", 0)),
                ),
                "RollBack",
            )
        ],
        default="AsgFailed",
    ),
    task(
        "RollBack",
        "rollback_on_failure: pin the version most instances ran before (pin_parameter) and converge back onto it "
        "with the same loop; if that is impossible, the ASG fails with its first error.",
        parameters=inputs(
            asg_name="$.asg_name",
            release_id="$.release_id",
            progress="$.progress",
            failure="$.failure",
            pin_parameter="$.settings.pin_parameter",
        ),
        result_path="$.progress",
        timeout=30,
        catches=(catch("AsgFailed", into="$.rollback_failure"),),
        then="Discover",
    ),
)
# How the ASG ends, and giving it back.
ASG_CONVERGED: Final = outcome("AsgConverged", "CONVERGED", SMALL_OUTCOME, then="UnlockAsg")
OUTCOMES: Final = (
    ASG_CONVERGED,
    outcome(
        "AsgPlanned",
        "PLANNED",
        "Dry run: the decision, with every instance's verdict, is the outcome; nothing was terminated. "
        + SMALL_OUTCOME,
        decision=True,
        then="UnlockAsg",
    ),
    outcome(
        "AsgContinues",
        "CONTINUE",
        "This execution's history share is spent: the next execution of the chain goes on with this ASG and takes "
        f"its lock over. {SMALL_OUTCOME} It also carries what the next execution goes on from: the replacements "
        "launched (a checkpoint's canary is chosen among them), the surge's count and the shortest replacement "
        "measured.",
        chain=True,
        then=END,
    ),
    outcome(
        "AsgFailed",
        "FAILED",
        f"One ASG failing never stops the others; Summarize reports it. {SMALL_OUTCOME}",
        error=True,
        then="UnlockAsg",
    ),
    outcome(
        "AsgSkipped",
        "SKIPPED",
        "A start that skips held ASGs (when_held: a scheduled sweep, an upload of the version being released) met "
        "one another running release holds: nothing was changed and nothing is held, so there is nothing to unlock. "
        "SKIPPED fails nothing.",
        error=True,
        then=END,
    ),
)
UNLOCK_ASG: Final = task(
    "UnlockAsg",
    "Give back what this release changed (surged capacity, suspended processes, a drained batch it did not "
    "terminate) and release its lease, if it holds it; what it left as it is, and why, goes into the outcome.",
    parameters=inputs(asg_name="$.asg_name", release_id="$.release_id"),
    result_path="$.unlock",
    catches=(catch("AsgNotCleanedUp", into="$.cleanup"),),
    then=END,
)
ASG_NOT_CLEANED_UP: Final = pass_(
    "AsgNotCleanedUp",
    "UnlockAsg failed: the lease, the surge or suspended processes may still be on the ASG (Cleanup after the "
    "execution ends, or the next release of it, gives them back). Reported as a failure, and the other ASGs go on.",
    parameters={"asg_name.$": "$.asg_name", "status": "FAILED"}
    | inputs(error="$.cleanup.Error", cause="$.cleanup.Cause", release_id="$.release_id", progress="$.progress"),
    then=END,
)
ONE_ASG: Final = (
    *LOCK,
    *READ,
    *TERMINATE,
    *POLL,
    WAIT_BEFORE_REREAD,
    *WATCH,
    *CHECKPOINT,
    *ROLLBACK,
    *OUTCOMES,
    UNLOCK_ASG,
    ASG_NOT_CLEANED_UP,
)

RELEASE_EACH_ASG: Final[Named] = (
    "ReleaseEachAsg",
    _state("Map", "ASGs are released independently and in parallel.")
    | {
        "ItemsPath": "$.asgs",
        "MaxConcurrency": 0,
        "ItemSelector": inputs(
            asg_name="$$.Map.Item.Value.asg_name",
            progress="$$.Map.Item.Value.progress",
            takes_over="$$.Map.Item.Value.takes_over",
            settings="$.settings",
            release_id="$$.Execution.Id",
        ),
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "LockUnlessDryRun",
            "States": dict(ONE_ASG),
        },
        "ResultPath": "$.outcomes",
        "Next": "Summarize",
    },
)

# The execution's end: its output, or the next execution of the chain.
SUMMARIZE: Final = task(
    "Summarize",
    "The execution's output; fails with ReleaseFailedError listing every ASG when any failed; or the next "
    "execution's input when some ASG must continue (history limit).",
    parameters=inputs(
        outcomes="$.outcomes",
        settings="$.settings",
        continuation="$.continuation",
        execution_id="$$.Execution.Id",
        execution_name="$$.Execution.Name",
    ),
    timeout=30,
    then="ContinueOrEnd",
)
CONTINUE_OR_END: Final = choice(
    "ContinueOrEnd",
    "A release that would pass the 25,000-event history limit continues as a new execution.",
    [when(equals("$.status", "CONTINUING"), "ContinueAsNewExecution")],
    default="Released",
)
CONTINUE_AS_NEW_EXECUTION: Final = task(
    "ContinueAsNewExecution",
    "Hand the continuing ASGs' leases to the chain's next execution, then start it with the compact state "
    "Summarize built.",
    parameters=inputs(state_machine_arn="$$.StateMachine.Id", execution_id="$$.Execution.Id", next="$.next"),
    timeout=30,
    then=END,
)
RELEASED: Final = succeed("Released", "Every ASG converged (or was planned, in a dry run).")

EXECUTION: Final = (
    ROUTE_INPUT,
    RESOLVE_EVENT,
    ANYTHING_TO_RELEASE,
    NOTHING_TO_RELEASE,
    VALIDATE_INPUT,
    RELEASE_EACH_ASG,
    SUMMARIZE,
    CONTINUE_OR_END,
    CONTINUE_AS_NEW_EXECUTION,
    RELEASED,
)

# The stretches tasks/domain/history_budget.py charges, each one or more walks through the graph: an
# execution's own states (an event's start, and a hand-over to the next execution: the most it runs),
# one ASG's states that run once (its lock, an outcome, its unlock: the loop runs in between), and the
# loop's pieces.
PATHS: Final[dict[str, tuple[Walk, ...]]] = {
    "EXECUTION": (
        (
            ROUTE_INPUT,
            RESOLVE_EVENT,
            ANYTHING_TO_RELEASE,
            VALIDATE_INPUT,
            RELEASE_EACH_ASG,
            SUMMARIZE,
            CONTINUE_OR_END,
            CONTINUE_AS_NEW_EXECUTION,
        ),
    ),
    "ASG_ONCE": (LOCK, (ASG_CONVERGED, UNLOCK_ASG)),
    "READ": (READ,),
    "DECIDE": (DECIDE,),
    "REREAD": ((WAIT_BEFORE_REREAD,),),
    "WATCH": (WATCH,),
    "TERMINATE": (TERMINATE,),
    "POLL": (POLL,),
    "CHECKPOINT": (CHECKPOINT,),
    "ROLLBACK": (ROLLBACK,),
}


def definition() -> State:
    return {
        "Comment": "asg-terminator release: replace every instance of each Auto Scaling group until all serve the "
        "target version, never dropping below the healthy floor.",
        "StartAt": "RouteInput",
        "States": dict(EXECUTION),
    }


def asl_paths_module() -> str:
    """tasks/domain/asl_paths.py: each stretch's states, with their types, in the order they run."""
    lines = [
        '"""The stretches of the release state machine that history_budget charges: each state, with its type, in',
        "the order a run passes them. Generated from state_machines/build.py (PATHS) by `make asl`: do not edit.",
        '"""',
    ]
    for stretch, walks in PATHS.items():
        states = [f'("{name}", "{state["Type"]}"),' for walk in walks for name, state in walk]
        if len(states) == 1:  # as ruff formats a tuple of one
            lines += ["", f"{stretch} = ({states[0]})"]
        else:
            lines += ["", f"{stretch} = (", *(f"    {s}" for s in states), ")"]
    return "\n".join(lines) + "\n"


def rendered() -> dict[Path, str]:
    """Each file this module writes, with the text it must hold."""
    return {ASL: json.dumps(definition(), indent=2) + "\n", ASL_PATHS: asl_paths_module()}


def main() -> None:
    for path, text in rendered().items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
