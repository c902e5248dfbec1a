"""The rank guard: every rank publishes what it runs in the process group's store, and
a missing or different rank stops the run, naming it (runtime.rank_guard).

The store is a real torch.distributed TCPStore (server and clients in this
process, one client per simulated rank); tests/e2e runs it across two TAO nodes.
"""
import json
import os
import subprocess
import sys
import threading
import time

import pytest
import torch.distributed as dist

import tao_sparse4d_fix
from tao_sparse4d_fix import switches
from tao_sparse4d_fix.runtime import criterion_state, rank_guard
from tao_sparse4d_fix.runtime.patches import focal_loss_forward

pytestmark = pytest.mark.once  # the plugin's own logic: runs on one TAO release (tests/unit/conftest.py)

MINE = {"plugin": "0.2.0", "tao": "6.25.11", "mode": "corrected", "focal_loss": "stock code of TAO 6.25.7.0.2-7.2.0"}


@pytest.fixture
def stores():
    """A TCPStore server and a client per rank (two ranks), like the ranks of one run."""
    server = dist.TCPStore("127.0.0.1", 0, 2, True, wait_for_workers=False)
    clients = [dist.TCPStore("127.0.0.1", server.port, 2, False) for _ in range(2)]
    yield clients
    del server  # kept alive until the test is done


def test_agreeing_ranks_pass_in_milliseconds(stores, capsys):
    results = {}

    def rank(r):
        start = time.perf_counter()
        rank_guard.check(stores[r], r, 2, MINE, timeout_s=10)
        results[r] = time.perf_counter() - start

    threads = [threading.Thread(target=rank, args=(r,)) for r in (1, 0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert set(results) == {0, 1} and max(results.values()) < 0.5, results
    line = next(line for line in capsys.readouterr().out.splitlines() if "ranks run the fix" in line)
    assert line.startswith("tao-sparse4d-fix: all 2 ranks run the fix (focal_loss stock code of TAO")
    own_ms = float(line.split("the check took ")[1].split(" ms")[0])
    assert own_ms < 50, line


def test_a_rank_that_never_reports_stops_the_run_within_the_timeout(stores):
    start = time.perf_counter()
    with pytest.raises(rank_guard.RanksDisagree) as raised:
        rank_guard.check(stores[0], 0, 2, MINE, timeout_s=1.0)
    elapsed = time.perf_counter() - start
    assert 1.0 <= elapsed < 3.0, elapsed
    message = str(raised.value)
    assert "rank 0 of 2 stops the run before its first optimizer step" in message
    assert "rank(s) 1 reported no status within 1 s (TAO_SPARSE4D_FIX_RANK_TIMEOUT)" in message


def test_a_rank_with_another_mode_is_named(stores):
    stores[1].set(rank_guard._key(1), json.dumps(dict(MINE, mode="original")))
    with pytest.raises(rank_guard.RanksDisagree) as raised:
        rank_guard.check(stores[0], 0, 2, MINE, timeout_s=5)
    assert "mode differs: 'corrected' on rank(s) 0; 'original' on rank(s) 1" in str(raised.value)
    assert "reported no status" not in str(raised.value)


def test_a_restarted_worker_group_does_not_read_the_previous_attempt(stores, monkeypatch):
    stores[1].set(rank_guard._key(1), json.dumps(MINE))  # attempt 0
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    with pytest.raises(rank_guard.RanksDisagree, match=r"rank\(s\) 1 reported no status"):
        rank_guard.check(stores[0], 0, 2, MINE, timeout_s=0.5)


def test_check_once_waits_for_the_process_group_and_runs_once(monkeypatch):
    rank_guard._done.clear()
    rank_guard.check_once(None)  # no process group yet: nothing, and not marked done
    assert not rank_guard._done
    dist.init_process_group("gloo", init_method="tcp://127.0.0.1:0", rank=0, world_size=1)
    try:
        rank_guard.check_once(None)  # one rank: nothing to compare
        assert rank_guard._done == [True]
    finally:
        dist.destroy_process_group()
        rank_guard._done.clear()


@pytest.mark.per_release
def test_status_names_the_mode_and_how_the_loss_was_recognised(criterion, patched):
    state = criterion_state.CriterionState("unmatched_only")
    published = rank_guard.status(state)
    assert published["mode"] == "unmatched_only" and published["plugin"] == tao_sparse4d_fix.__version__
    assert published["focal_loss"] == criterion_state.contract().verdict
    assert published["focal_loss"].startswith("stock code of TAO ")  # the status table's reason for FocalLoss.forward


@pytest.mark.parametrize("raw, expected", [("", 60.0), ("  ", 60.0), ("5", 5.0), ("0.5", 0.5), (" 120 ", 120.0)])
def test_rank_timeout_values(raw, expected):
    assert switches.rank_timeout({switches.RANK_TIMEOUT: raw}) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "soon", "inf", "nan", "1e999"])
def test_bad_rank_timeout_is_refused_naming_the_value(raw):
    with pytest.raises(switches.InvalidSwitch) as raised:
        switches.rank_timeout({switches.RANK_TIMEOUT: raw})
    assert f"TAO_SPARSE4D_FIX_RANK_TIMEOUT={raw!r} is not a valid value" in str(raised.value)
    assert "number of seconds greater than 0" in str(raised.value)


@pytest.mark.per_release
def test_bad_rank_timeout_stops_tao_import_before_any_step():
    env = dict(os.environ, TAO_SPARSE4D_FIX="1", TAO_SPARSE4D_FIX_RANK_TIMEOUT="soon")
    result = subprocess.run([sys.executable, "-c", "import nvidia_tao_pytorch.cv.sparse4d.model.criterion; print('IMPORTED')"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "IMPORTED" not in result.stdout
    assert "TAO_SPARSE4D_FIX_RANK_TIMEOUT='soon' is not a valid value" in result.stderr


@pytest.mark.per_release
def test_the_loss_patch_calls_the_guard(criterion, patched, monkeypatch):
    """The core FocalLoss wrapper runs the guard first (a side patch could be switched off)."""
    calls = []
    monkeypatch.setattr(rank_guard, "check_once", calls.append)
    import torch

    loss = criterion.FocalLoss(gamma=2.0, alpha=0.25, loss_weight=2.0)
    loss(torch.zeros(3, 2), torch.tensor([0, 2, -3]))
    assert len(calls) == 1 and focal_loss_forward.PATCH.is_applied(criterion)
