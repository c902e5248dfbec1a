"""TAO's own training entrypoint, unchanged, with and without the plugin."""
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BANNER, KEY, SMALL_HEAD, TAO, testenv

TABLE_ROW = re.compile(r"criterion\.FocalLoss\.forward +\| core \| Yes")  # the column is as wide as the longest target


def test_original_by_override_is_stock(train):
    run = train(switch="1", overrides=[f"{KEY}=original"])
    assert run.returncode == 0, run.output[-3000:]
    assert "background_supervision: original (from override)" in run.output
    losses = run.cls_losses()
    assert losses and all(value == 0 for value in losses)


def test_original_by_spec_is_stock(train):
    run = train(switch="1", spec_values={KEY: "original"})
    assert run.returncode == 0, run.output[-3000:]
    assert "background_supervision: original (from spec)" in run.output
    assert all(value == 0 for value in run.cls_losses())


def test_without_plugin_training_is_stock(train):
    run = train(switch=None)
    assert run.returncode == 0, run.output[-3000:]
    assert BANNER not in run.output
    losses = run.cls_losses()
    assert losses and all(value == 0 for value in losses)
    yawness = [v for points in run.scalars("loss_yns").values() for _, v in points]
    assert any(math.isnan(v) for v in yawness)  # the defect the NaN guard removes


def test_without_plugin_a_spec_asking_for_the_fix_is_rejected(train):
    run = train(switch=None, spec_values={KEY: "corrected"})
    assert run.returncode != 0 or "Execution status: FAIL" in run.output
    assert "background_supervision" in run.output
    assert not run.cls_losses()


def test_invalid_value_stops_before_the_first_step(train):
    run = train(switch="1", overrides=[f"{KEY}=sometimes"])
    assert run.returncode != 0 or "Execution status: FAIL" in run.output
    assert "'sometimes' is not a valid value; valid values are: original, corrected, unmatched_only" in run.output
    assert not run.scalars("loss")  # no step was logged


LOAD = """
import sys, torch
import tao_sparse4d_fix
from tao_sparse4d_fix.runtime import criterion_state
from omegaconf import OmegaConf
from nvidia_tao_core.config.sparse4d.default_config import ExperimentConfig
from nvidia_tao_pytorch.cv.sparse4d.model.sparse4d_pl_model import Sparse4DPlModel

def load(spec, checkpoint):
    cfg = OmegaConf.merge(OmegaConf.structured(ExperimentConfig), OmegaConf.load(spec))
    model = Sparse4DPlModel(cfg)
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    result = model.load_state_dict(state, strict=True)
    print("LOADED", len(state), "patched" if criterion_state.of(model.criterion.loss_cls) else "stock", flush=True)

load(sys.argv[1], sys.argv[2])  # TAO_SPARSE4D_FIX=1: the plugin loaded from its .pth
tao_sparse4d_fix.uninstall()  # every patch undone: TAO's own objects again (tests/unit/test_patch_orders.py)
load(sys.argv[3], sys.argv[4])
"""


def test_checkpoints_move_between_patched_and_stock(tao_run):
    """The session's checkpoints: trained without the plugin, loaded (strict) into a model built with the fix
    (TAO_SPARSE4D_FIX=1); trained with the fix, loaded into a stock model (the plugin uninstalled in the same
    process, which saves a TAO start of tens of CPU-seconds)."""
    fixed, stock = tao_run["runs"]["fixed"], tao_run["runs"]["stock"]
    env = dict(testenv.tao_env(TAO), TAO_SPARSE4D_FIX="1")
    loaded = subprocess.run([sys.executable, "-c", LOAD, str(stock.spec), str(stock.checkpoint), str(fixed.spec),
                             str(fixed.checkpoint)], env=env, capture_output=True, text=True, timeout=600)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    lines = [line for line in loaded.stdout.splitlines() if line.startswith("LOADED ")]
    assert len(lines) == 2 and lines[0].endswith(" patched") and lines[1].endswith(" stock"), loaded.stdout


def test_fixed_run_on_two_ddp_ranks_supervises_background_and_survives_default_threshold(train, tmp_path):
    """All frames empty, TAO's default cls_threshold_to_reg 0.05: stock would log loss_cls 0 and a NaN yawness
    loss; the fixed run supervises every query. ``train.num_gpus: 2`` makes it Lightning DDP on the CPU (gloo);
    each worker is a fresh interpreter that must load the fix from the .pth by itself. (One run for both, with the
    smallest head: each TAO start costs tens of CPU-seconds.)"""
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    run = train(switch="1", num_gpus=2, steps=2, overrides=[*SMALL_HEAD, "model.head.cls_threshold_to_reg=0.05"], extra_env={
        "TAO_CPU_TESTONLY_PROBE": "rank_probe", "RANK_PROBE_DIR": str(probe_dir),
        "PYTHONPATH_APPEND": str(Path(__file__).parent),
    })
    assert run.returncode == 0, run.output[-3000:]
    assert run.output.count(BANNER) == 1  # rank 0 only
    assert TABLE_ROW.search(run.output)
    assert "background_supervision: corrected (from default)" in run.output
    losses = run.cls_losses()  # rank 0's TensorBoard
    assert losses and all(value > 0 for value in losses)
    assert run.all_losses_finite()
    assert run.scalars("bgsup/unmatched_score_mean")  # diagnostics reach TensorBoard
    over_floor = [v for _, v in run.scalars("bgsup/cls_over_floor")["bgsup/cls_over_floor"]]
    assert over_floor and all(math.isfinite(v) and v > 0 for v in over_floor)
    rows = {rank: [json.loads(line) for line in (probe_dir / f"rank{rank}.jsonl").read_text().splitlines()]
            for rank in (0, 1)}
    assert len({row["pid"] for rank in rows for row in rows[rank]}) == 2  # two processes
    for rank, calls in rows.items():
        assert calls and all(call["focal_loss_patched"] for call in calls), rank
        # every frame is empty: only a supervised background gives a non-zero loss
        assert all(value > 0 for call in calls for value in call["loss_cls"].values()), rank


def test_cls_over_floor_in_tensorboard_equals_the_benchs_floor_ratio(tao_run):
    """The user's scalar and the evidence benchmark's validity check read one floor: per step, the
    logged bgsup/cls_over_floor is the probe's recorded loss over floor of the last layer's main call
    (the session's fix-trained run, on scenes with objects, the probe loaded)."""
    from bench.evidence import validity

    run = tao_run["runs"]["fixed"]
    logged = [value for _, value in run.scalars("bgsup/cls_over_floor")["bgsup/cls_over_floor"]]
    layers = len(run.scalars("loss_cls_dn_"))  # TAO logs loss_cls_dn_<layer> for every decoder layer
    assert layers == tao_run["layers"]
    losses, floors = validity.floor_series(validity.read_probe(tao_run["root"] / "probe"), layers - 1)
    assert len(logged) == len(losses) == tao_run["steps"]
    assert all(f > 0 for f in floors)
    for value, loss, floor in zip(logged, losses, floors):
        assert value == pytest.approx(loss / floor, rel=1e-5)
