"""``tao-sparse4d-fix inspect`` on the files TAO's own ``sparse4d inference -e spec.yaml`` writes.

Two real TAO checkpoints of the evidence set-up (bench/evidence/config.py): the
fix-trained one is the demo's cached base (``corrected`` from scratch, which must
have left its constant-score floor; trained once, about 11 minutes, then reused),
the stock-trained one a short ``original`` run from the same backbone. TAO's
inference entrypoint writes results_nusc.json for held-out scenes with the
plugin off, as a stock container would; ``inspect`` reads them in the host venv
(no torch, no TAO), with TAO's own val.pkl as ground truth.
"""
import json
import subprocess

from conftest import TAO, testenv

from bench import demo
from bench.evidence import config, runs

STOCK_STEPS = 40  # stock TAO's background scores are inflated within a few dozen steps (README, demo)


def tao_inference(spec, checkpoint, heldout, prefix, cfg):
    env = testenv.tao_env(TAO)
    env.pop("TAO_SPARSE4D_FIX", None)  # a stock container
    env["TAO_CPU_TESTONLY_NO_CHECKPOINT"] = "1"
    overrides = [*runs.model_overrides(cfg), f"inference.checkpoint={checkpoint}", f"inference.jsonfile_prefix={prefix}",
                 "inference.output_nvschema=false", f"dataset.data_root={heldout}",
                 f"dataset.test_dataset.ann_file={heldout / 'val.pkl'}"]
    done = subprocess.run(["sparse4d", "inference", "-e", str(spec), *overrides], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=900)
    assert done.returncode == 0 and "Execution status: PASS" in done.stdout, done.stdout[-3000:]
    return prefix / "img_bbox" / "results_nusc.json"


def test_inspect_tells_a_stock_trained_model_from_a_fixed_one(tmp_path):
    cfg = dict(config.FULL)
    testenv.ensure([TAO])
    base_ckpt, base = demo.cached_base(cfg)
    assert base["validity"]["learned"], base["validity"]  # the fixed model really learned
    runs.generate(tmp_path / "data", config.BASE_DATA_SEED, runs.scenes_for(STOCK_STEPS, cfg), cfg["train_frames"], cfg)
    runs.generate(tmp_path / "heldout", config.HELDOUT_SEED, cfg["test_scenes"], cfg["test_frames"], cfg)
    stock = runs.train(tmp_path, "stock", "original", STOCK_STEPS, tmp_path / "data", cfg, config.RUN_SEED, threads=2)
    spec = tmp_path / "stock.yaml"  # the training spec: the same model for both checkpoints
    files = {name: tao_inference(spec, ckpt, tmp_path / "heldout", tmp_path / f"pred_{name}", cfg)
             for name, ckpt in (("fixed", base_ckpt), ("stock", runs.final_checkpoint(stock["results"])))}
    for ckpt in (tmp_path / "stock").rglob("*.pth"):
        ckpt.unlink()

    host = testenv.ensure_host()
    done = subprocess.run([str(host), "-m", "tao_sparse4d_fix", "inspect", str(files["fixed"]), str(files["stock"]),
                           "--num-output", str(cfg["anchors"]), "--gt", str(tmp_path / "heldout" / "val.pkl"), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr  # a file is affected
    fixed, stock_report = json.loads(done.stdout)
    print(json.dumps([{k: r[k] for k in ("file", "verdict", "reasons", "detections_per_frame_mean", "frames_at_cap",
                                         "score_spread_mean", "fp_per_frame", "precision_2m", "recall_2m")}
                      for r in (fixed, stock_report)], indent=1))
    assert fixed["frames"] == stock_report["frames"] == cfg["test_scenes"] * cfg["test_frames"]
    assert (fixed["num_output"], fixed["num_output_from"]) == (cfg["anchors"], "option")  # set by override here
    assert stock_report["verdict"] == "affected", stock_report["reasons"]
    assert fixed["verdict"] == "not_affected", fixed["reasons"]
    assert stock_report["fp_per_frame"] > fixed["fp_per_frame"]
