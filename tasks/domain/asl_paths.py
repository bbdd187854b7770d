"""The stretches of the release state machine that history_budget charges: each state, with its type, in
the order a run passes them. Generated from state_machines/build.py (PATHS) by `make asl`: do not edit.
"""

EXECUTION = (
    ("RouteInput", "Choice"),
    ("ResolveEvent", "Task"),
    ("AnythingToRelease", "Choice"),
    ("ValidateInput", "Task"),
    ("ReleaseEachAsg", "Map"),
    ("Summarize", "Task"),
    ("ContinueOrEnd", "Choice"),
    ("ContinueAsNewExecution", "Task"),
)

ASG_ONCE = (
    ("LockUnlessDryRun", "Choice"),
    ("LockAsg", "Task"),
    ("AsgConverged", "Pass"),
    ("UnlockAsg", "Task"),
)

READ = (
    ("Discover", "Task"),
    ("ReadVersions", "Task"),
    ("SelectBatch", "Task"),
    ("BatchDecision", "Choice"),
)

DECIDE = (
    ("SelectBatch", "Task"),
    ("BatchDecision", "Choice"),
)

REREAD = (("WaitBeforeReread", "Wait"),)

WATCH = (
    ("WatchBooting", "Task"),
    ("BootsEnded", "Choice"),
    ("WaitAfterWatching", "Wait"),
)

TERMINATE = (
    ("Drain", "Task"),
    ("WaitForDraining", "Wait"),
    ("Terminate", "Task"),
)

POLL = (
    ("WaitForReplacement", "Wait"),
    ("CheckReplacement", "Task"),
    ("ReplacementDone", "Choice"),
)

CHECKPOINT = (
    ("Bake", "Wait"),
    ("PassCheckpoint", "Task"),
    ("ApprovalRequired", "Choice"),
    ("AwaitApproval", "Task"),
)

ROLLBACK = (
    ("RollBackOnFailure", "Choice"),
    ("RollBack", "Task"),
)
