"""``tao-sparse4d-fix inspect`` on the files TAO's own ``sparse4d inference -e spec.yaml`` writes.

Two real TAO checkpoints of one set-up and data (conftest ``tao_run``): one trained by
TAO without the plugin, one with it (``corrected``), each as short. TAO's inference
entrypoint writes results_nusc.json for held-out frames with the plugin off, as a stock
container would; ``inspect`` reads both in the host venv (no torch, no TAO), with TAO's
own val.pkl as ground truth. A few dozen stock steps inflate every query's score: the
stock-trained file reads ``affected``. The fix-trained run is as short, so it is still at
its constant-score floor (one score for every query, all at the decoder's cap): nothing
here can say it is unaffected. That a fixed model which has left its floor reads
``not_affected`` is measured on the evidence's runs (``bench/inspect_calibration.py``:
25 of 33 fixed runs ``not_affected``, none ``affected``); leaving the floor takes a few
hundred steps (the demo's base, about 11 minutes), too long for the test command.
"""
import json
import subprocess

from conftest import HELDOUT_FRAMES, SHARED, testenv


def test_inspect_names_the_stock_trained_model_in_the_files_tao_writes(tao_run):
    files = tao_run["results_nusc"]
    host = testenv.ensure_host()
    done = subprocess.run([str(host), "-m", "tao_sparse4d_fix", "inspect", str(files["fixed"]), str(files["stock"]),
                           "--num-output", str(SHARED["anchors"]), "--gt", str(tao_run["heldout"] / "val.pkl"),
                           "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr  # a file is affected
    fixed, stock_report = json.loads(done.stdout)
    print(json.dumps([{k: r[k] for k in ("file", "verdict", "reasons", "detections_per_frame_mean", "frames_at_cap",
                                         "score_spread_mean", "fp_per_frame", "precision_2m", "recall_2m")}
                      for r in (fixed, stock_report)], indent=1), tao_run["validity"]["main"])
    assert fixed["frames"] == stock_report["frames"] == HELDOUT_FRAMES
    assert (fixed["num_output"], fixed["num_output_from"]) == (SHARED["anchors"], "option")  # set by option here
    assert stock_report["verdict"] == "affected", stock_report["reasons"]
    assert stock_report["signals"]["at_cap"] == "fired", stock_report["reasons"]
    assert stock_report["frames_at_cap"] == HELDOUT_FRAMES  # every query of every frame above TAO's 0.05
