"""Every rank of a distributed run trains with the same fix, or the run stops before its first optimizer step.

A fleet with one stale image would otherwise train with two losses in one run,
silently. Lightning initialises ``torch.distributed`` after TAO builds the
criterion, so the check runs at the first loss call of a process that sees an
initialised process group with more than one rank: each patched rank publishes
its status (plugin version, TAO version, mode, how TAO's FocalLoss was
recognised) in the process group's key-value store, then waits, with
``TAO_SPARSE4D_FIX_RANK_TIMEOUT``, until every rank has published. Store
operations are point-to-point with the store's server: nothing collective, so a
rank without the fix (which publishes nothing and takes part in nothing of
ours) cannot make another wait for ever. A rank that is missing or differs
stops the run with a message naming the ranks and what differed; rank 0 prints
one line when all agree.

Before raising, a rank leaves the process group: TAO's exception callback
(``TAOExceptionCheckpoint``) would otherwise wait in a barrier for a rank that is
itself waiting in a gradient all-reduce, until the collective timeout (30
minutes). Leaving closes this rank's connections, so that rank's collective
fails at once and every process of the run ends.
"""
import json
import os
import time
from datetime import timedelta

from tao_sparse4d_fix import switches
from tao_sparse4d_fix._version import __version__
from tao_sparse4d_fix.errors import PluginError
from tao_sparse4d_fix.runtime import criterion_state, run_log, versions

KEY = "tao_sparse4d_fix/rank_status"
_done = []  # once per process


class RanksDisagree(PluginError, RuntimeError):
    """A rank of this run is not patched, or runs another mode or plugin."""


def status(state):
    """What a rank publishes: what must be the same on every rank."""
    return {"plugin": __version__, "tao": versions.tao_version(), "mode": state.mode if state else "unknown",
            "focal_loss": criterion_state.contract().verdict}


def check_once(state):
    """At the first loss call with an initialised multi-rank process group; free afterwards."""
    if _done:
        return
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return  # not yet: Lightning initialises the group after the criterion is built
    _done.append(True)
    if dist.get_world_size() < 2:
        return
    try:
        check(dist.distributed_c10d._get_default_store(), dist.get_rank(), dist.get_world_size(), status(state),
              switches.rank_timeout())
    except RanksDisagree:
        dist.destroy_process_group()
        raise


def _key(rank):
    # a restarted torchelastic worker group reuses the store: its statuses are kept apart
    return f"{KEY}/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/{rank}"


def check(store, rank, world_size, mine, timeout_s):
    """Publish ``mine``, wait for every rank's status, and raise ``RanksDisagree`` unless all are equal."""
    start = time.perf_counter()
    store.set(_key(rank), json.dumps(mine, sort_keys=True))
    published = time.perf_counter()
    keys = [_key(other) for other in range(world_size)]
    try:
        store.wait(keys, timedelta(seconds=timeout_s))
    except Exception:  # the store's timeout error: who is missing is read below
        pass
    waited = time.perf_counter()
    problems = []
    try:
        missing = [other for other, key in enumerate(keys) if not store.check([key])]
        statuses = {other: json.loads(store.get(key)) for other, key in enumerate(keys) if other not in missing}
    except Exception as error:  # the store's host (rank 0's process) has gone: it stopped the run
        missing, statuses = [], {}
        problems.append(f"the process group's key-value store became unreachable ({error!r}): another rank has "
                        "stopped the run")
    if missing:
        problems.append(f"rank(s) {', '.join(map(str, missing))} reported no status within {timeout_s:g} s "
                        f"({switches.RANK_TIMEOUT}): they run without tao-sparse4d-fix (TAO_SPARSE4D_FIX unset there, "
                        "or an image or container without the plugin)")
    for field in sorted(mine):
        values = {}
        for other, theirs in statuses.items():
            values.setdefault(theirs.get(field), []).append(other)
        if len(values) > 1:
            problems.append(f"{field} differs: " + "; ".join(f"{value!r} on rank(s) {', '.join(map(str, ranks))}"
                                                              for value, ranks in sorted(values.items(), key=str)))
    if problems:
        raise RanksDisagree(
            f"tao-sparse4d-fix: rank {rank} of {world_size} stops the run before its first optimizer step, so that the "
            "ranks do not train with different losses: " + "; ".join(problems) + ". Make every node run the same "
            "image with TAO_SPARSE4D_FIX=1 and the same spec and overrides (tao-sparse4d-fix doctor on each node)."
        )
    own_ms = (published - start + time.perf_counter() - waited) * 1e3
    if rank == 0:
        run_log.info(f"all {world_size} ranks run the fix ({', '.join(f'{k} {v}' for k, v in sorted(mine.items()))}); "
                    f"the check took {own_ms:.1f} ms, plus {(waited - published) * 1e3:.0f} ms waiting for the "
                    "slowest rank to reach its first loss call")
