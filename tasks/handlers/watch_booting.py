"""WatchBooting: SelectBatch waits for instances that are booting (a surge, or any instance that would
lift the floor): watch them for up to a poll, instead of waiting a whole poll (WaitBeforeReread).

Once each has answered, it reads the fleet again itself and stores that read (``fleet``, as
CheckReplacement does): SelectBatch decides on it, with no Discover and ReadVersions between. It does
so only when its timeout leaves room for a whole poll's watch and for as long a read as the one the
decision saw (its ``read_seconds``); otherwise Discover reads next. When not all answer,
WaitAfterWatching waits out the rest of the poll.

It changes nothing: it reads the stored read the decision saw (its fleet_key), for the URLs of the
instances it names, probes them (tasks/domain/watch.py) and reads the fleet.
"""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.adapters.fleet_reader import watch
from tasks.domain import watch as watching
from tasks.domain.fleet import Progress
from tasks.errors import InvalidStepInputError

CARRIED = ("asg_name", "release_id", "settings", "progress")


@contracts.step("watch_booting")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started, settings = runtime.epoch(), contracts.settings(event["settings"])
    decision = Progress.from_record(event["progress"]).decision
    if decision is None or decision.fleet_key is None:
        raise InvalidStepInputError("watch_booting input: the decision names no read to watch from (fleet_key)")
    poll, probe_timeout = settings["poll_seconds"], settings["probe_timeout_seconds"]
    records = runtime.fleet_records()
    stored = records.get(event["asg_name"], decision.fleet_key)
    spent = runtime.epoch() - started
    read = stored.read_seconds
    if read is None or watching.seconds(poll, probe_timeout, spent, then_read=read) < poll:
        read = None  # no room for a whole poll's watch and a read after it: Discover reads next
    seconds = watching.seconds(poll, probe_timeout, spent, then_read=read or 0.0)
    since = runtime.epoch()
    answered = bool(decision.watch) and watch(
        stored.fleet,
        decision.watch,
        runtime.prober(probe_timeout),
        seconds=seconds,
        every=watching.every(poll),
        sleep=runtime.sleep,
        clock=runtime.epoch,
    )
    watched = runtime.epoch() - since
    # Not all answered: the next read comes when the rest of the poll has passed (WaitAfterWatching),
    # as it would have after WaitBeforeReread.
    rest = 0 if answered else watching.rest(poll, watched)
    state = {key: event[key] for key in CARRIED}
    state["booting"] = {
        "instance_ids": list(decision.watch),
        "answered": answered,
        "watched_seconds": round(watched, 1),
        "rest_seconds": rest,
    }
    if answered and read is not None:
        fleet, took = runtime.read_fleet(stored.fleet.asg_name, settings["version_url"], probe_timeout)
        state["fleet"] = records.put(event["release_id"], "WatchBooting", fleet, took)
    said = "each answered" if answered else f"not all answered; the next read in {rest} s"
    said += ", the fleet read again" if "fleet" in state else ""
    runtime.logger.info(
        f"{stored.fleet.asg_name} => watched {len(decision.watch)} booting instances for {watched:.1f} s: {said}",
        extra={"step": "WatchBooting", "asg_name": stored.fleet.asg_name},
    )
    return state
