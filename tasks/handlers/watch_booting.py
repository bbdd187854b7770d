"""WatchBooting: SelectBatch waits for instances that are booting (a surge, or any instance that would
lift the floor): watch them for up to a poll, and read the fleet again (Discover) as soon as each has
answered, instead of after a whole poll (WaitBeforeReread); when not all answer, WaitAfterWatching
waits out the rest of the poll.

It changes nothing: it reads the stored read the decision saw (its fleet_key), for the URLs of the
instances it names, and probes them (tasks/domain/watch.py).
"""

from __future__ import annotations

from typing import Any

from tasks import contracts, runtime
from tasks.adapters.fleet_reader import watch
from tasks.domain import watch as watching
from tasks.domain.fleet import Decision
from tasks.errors import InvalidStepInputError


@contracts.step("watch_booting")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started, decision = runtime.epoch(), Decision.from_record(event["decision"])
    poll, probe_timeout = event["poll_seconds"], event["probe_timeout_seconds"]
    if decision.fleet_key is None:
        raise InvalidStepInputError("watch_booting input: the decision names no read to watch from (fleet_key)")
    stored = runtime.fleet_records().get(event["asg_name"], decision.fleet_key)
    seconds = watching.seconds(poll, probe_timeout, runtime.epoch() - started)
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
    said = "each answered" if answered else f"not all answered; the next read in {rest} s"
    runtime.logger.info(
        f"{stored.fleet.asg_name} => watched {len(decision.watch)} booting instances for {watched:.1f} s: {said}",
        extra={"step": "WatchBooting", "asg_name": stored.fleet.asg_name},
    )
    return {
        "instance_ids": list(decision.watch),
        "answered": answered,
        "watched_seconds": round(watched, 1),
        "rest_seconds": rest,
    }
