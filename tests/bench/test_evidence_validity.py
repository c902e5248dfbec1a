"""The evidence report's validity check: the constant-score floor and the inconclusive label.

The floor is checked against an independent closed form (gamma = 0: weighted
binary cross-entropy, whose best constant score is known exactly) and against a
brute-force evaluation of the focal loss. Then the report itself (bench/evidence_report.py,
in its own metrics venv) is fed a run whose stock arm sits at its floor and whose
fixed arm is below it: the fixed arm must be labelled learned, the stock arm
"has not learned to separate queries", and every comparison involving it
inconclusive; with both arms below their floors the comparison counts.

    python3 harness/testenv.py run --tao 6.25.11 -- python -m pytest -q tests/bench/test_evidence_validity.py
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
import evidence_floor  # noqa: E402

# One main-query call of the tiny set-up: 6 matched queries of 2 classes, 122 unmatched (label C = 2).
CALL = {"rows": 128, "classes": 2, "labels": {"0": 4, "1": 2, "2": 122}, "avg_factor": 6.0,
        "alpha": 0.25, "gamma": 2.0, "loss_weight": 2.0, "loss": 0.0}


def focal_at_constant(call, mode, p):
    """The loss of the call if every row scored ``p[c]`` for class c (direct sum over rows)."""
    total = 0.0
    for label, count in call["labels"].items():
        label = int(label)
        if mode == "original" and not 0 <= label < call["classes"]:
            continue
        if mode == "unmatched_only" and not 0 <= label <= call["classes"]:
            continue
        for c in range(call["classes"]):
            a, g = call["alpha"], call["gamma"]
            if label == c:
                total += count * a * (1 - p[c]) ** g * -math.log(p[c])
            else:
                total += count * (1 - a) * p[c] ** g * -math.log(1 - p[c])
    return call["loss_weight"] * total / call["avg_factor"]


def test_floor_matches_the_closed_form_without_focusing():
    call = dict(CALL, gamma=0.0)
    a = call["alpha"]
    best = []
    for c, n_pos in ((0, 4), (1, 2)):  # weighted BCE: the best constant is a n_pos / (a n_pos + (1 - a) n_neg)
        n_neg = 128 - n_pos
        best.append(a * n_pos / (a * n_pos + (1 - a) * n_neg))
    assert evidence_floor.call_floor(call, "corrected") == pytest.approx(focal_at_constant(call, "corrected", best), rel=1e-5)


@pytest.mark.parametrize("mode", ["original", "corrected", "unmatched_only"])
def test_floor_is_the_lowest_constant_score_loss(mode):
    floor = evidence_floor.call_floor(CALL, mode)
    grid = np.linspace(0.001, 0.999, 400)
    brute = min(focal_at_constant(CALL, mode, [p0, p1]) for p0 in grid[::4] for p1 in grid[::4])
    assert floor <= brute + 1e-9
    assert floor == pytest.approx(brute, rel=2e-2)


def test_modes_supervise_the_rows_they_document():
    labels = {"-3": 5, "-1": 2, "0": 4, "1": 2, "2": 120}
    assert evidence_floor.supervised_rows(labels, 2, "original") == 6
    assert evidence_floor.supervised_rows(labels, 2, "unmatched_only") == 126
    assert evidence_floor.supervised_rows(labels, 2, "corrected") == 133
    assert evidence_floor.call_floor(dict(CALL, labels={"2": 128}), "original") == 0.0  # nothing supervised


def probe_steps(mode, ratio, steps=20, layers=2):
    """A probe record in which the last layer's main loss is ``ratio`` times its floor at every step."""
    floor = evidence_floor.call_floor(CALL, mode)
    dn = dict(CALL, rows=24, labels={"-3": 12, "0": 8, "1": 4}, avg_factor=24.0)
    calls = [dict(CALL, loss=ratio * floor)] * layers + [dict(dn, loss=evidence_floor.call_floor(dn, mode))] * layers
    return [{"step": s, "calls": calls} for s in range(steps)]


def test_validity_labels_a_run_at_its_floor_and_one_below():
    at_floor = evidence_floor.validity(probe_steps("original", 1.0), "original", layers=2)
    below = evidence_floor.validity(probe_steps("corrected", 0.5), "corrected", layers=2)
    assert at_floor["learned"] is False and at_floor["main"]["ratio_tail"] == pytest.approx(1.0)
    assert below["learned"] is True and below["main"]["ratio_tail"] == pytest.approx(0.5)
    assert at_floor["main"]["tail_steps"] == 4  # the last 20 % of 20 steps


def frame(token, scene, idx, dets):
    """One held-out frame: two ground-truth boxes, ``dets`` as (x, y, class score, track id)."""
    gt = [[0.0, 0.0, 0.5, 0.6, 0.6, 1.7, 0.0], [5.0, 5.0, 0.5, 0.6, 0.6, 1.7, 0.0]]
    boxes = [[x, y, 0.5, 0.6, 0.6, 1.7, 0.0] for x, y, _, _ in dets]
    scores = [s for _, _, s, _ in dets]
    return {"token": token, "scene": scene, "frame_idx": idx, "timestamp": float(idx),
            "det_boxes": boxes, "det_scores": scores, "det_cls_scores": scores, "det_labels": [0] * len(dets),
            "det_ids": [i for *_, i in dets], "query_scores": scores + [0.01], "query_centres": [b[:3] for b in boxes] + [[9.0, 9.0, 0.5]],
            "gt_boxes": gt, "gt_names": ["person", "person"], "gt_ids": [1, 2]}


def fake_run(tmp, learned):
    """run_info.json of one repeat of four arms; ``learned[arm]``: the arm's loss over its floor."""
    rep = tmp / "repeat0"
    (rep / "infer").mkdir(parents=True)
    arms = []
    for arm, mode in (("original", "original"), ("corrected", "corrected"), ("unmatched_only", "unmatched_only"),
                      ("rescue", "corrected")):
        fp = 3 if arm == "original" else 1  # the fixed arms leave fewer false positives
        dets = [(0.1, 0.0, 0.9, 1), (5.0, 5.1, 0.8, 2)] + [(-6.0 + k, -6.0, 0.3, 10 + k) for k in range(fp)]
        frames = [frame(f"s0_{i}", "s0", i, dets) for i in range(3)]
        (rep / "infer" / f"infer_{arm}.json").write_text(json.dumps({
            "arm": arm, "score_threshold": 0.05, "tracking_threshold": 0.2, "classes": ["person", "nova_carter"],
            "frames": frames}))
        probe = rep / f"probe_{arm}"
        probe.mkdir()
        (probe / "probe_1.jsonl").write_text("\n".join(json.dumps(s) for s in probe_steps(mode, learned[arm])))
        arms.append({"repeat": 0, "arm": arm, "mode": mode, "steps": 20, "probe": str(probe), "wall_s": 1.0,
                     "results": str(rep / arm), "command": f"sparse4d train -e spec.yaml ...={mode}"})
    cfg = {"repeats": 1, "parallel": 2, "decoder_layers": 2, "dn_groups": 2, "temp_dn_groups": 1, "anchors": 128,
           "train_scenes": 1, "train_frames": 20, "test_scenes": 1, "test_frames": 3, "cameras": 2, "width": 128,
           "height": 64, "camera_radius": 12.0, "ground": "dark", "objects": [2, 2], "area": 7.0, "steps": 20,
           "rescue_steps": 3}
    info = {"quick": False, "command": "python3 bench/evidence.py", "commit": "test", "tao": "6.25.11", "config": cfg,
            "setup_reasons": ["a test run"], "machine": {"cores": 2, "cpu": "test", "memory": "1 GiB", "platform": "test",
                                                         "loadavg_start": [0, 0, 0], "loadavg_end": [0, 0, 0]},
            "seeds": {"train_data": 0, "heldout_data": 1000, "train.seed": 0}, "train_wall_s": 4.0,
            "total_wall_s_before_report": 5.0,
            "repeats": [{"repeat": 0, "arms": arms, "infer": str(rep / "infer")}]}
    (tmp / "run_info.json").write_text(json.dumps(info))
    return tmp / "run_info.json"


@pytest.fixture(scope="module")
def metrics_python():
    import evidence

    return str(evidence.metrics_venv())


def run_report(metrics_python, info, out):
    done = subprocess.run([metrics_python, str(REPO / "bench" / "evidence_report.py"), "--info", str(info), "--out", str(out)],
                          capture_output=True, text=True, env=__import__("evidence").clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    return (out / "report.md").read_text(), json.loads((out / "results.json").read_text())


def comparison_row(report, label):
    return next(line for line in report.splitlines() if line.startswith(f"| {label} (lower is better)"))


def test_report_calls_a_comparison_with_an_arm_at_its_floor_inconclusive(tmp_path, metrics_python):
    info = fake_run(tmp_path, {"original": 1.0, "corrected": 0.5, "unmatched_only": 1.02, "rescue": 0.6})
    report, results = run_report(metrics_python, info, tmp_path / "out")
    assert [r["learned"] for r in results["arms"]["original"]] == [False]
    assert [r["learned"] for r in results["arms"]["corrected"]] == [True]
    assert "NOT BELOW ITS FLOOR (1.00× floor): has not learned to separate queries" in report
    assert "learned (0.50× floor)" in report
    row = comparison_row(report, "false positives / frame (2 m)")
    assert row.count("inconclusive (an arm at its floor in every repeat)") == 3, row
    assert "better in" not in row
    assert results["comparisons"]["vs_original"]["corrected"]["fp_per_frame"] == {
        "better": 0, "worse": 0, "same": 0, "inconclusive": 1, "n": 1}
    assert results["comparisons"]["corrected_vs_unmatched_only"]["fp_per_frame"]["inconclusive"] == 1  # 1.02× floor


def test_report_counts_a_comparison_when_both_arms_left_their_floor(tmp_path, metrics_python):
    info = fake_run(tmp_path, {"original": 0.7, "corrected": 0.5, "unmatched_only": 1.0, "rescue": 0.6})
    report, results = run_report(metrics_python, info, tmp_path / "out")
    row = comparison_row(report, "false positives / frame (2 m)")
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    assert cells == ["better in 1/1 conclusive repeats", "inconclusive (an arm at its floor in every repeat)",
                     "better in 1/1 conclusive repeats"], cells
    corrected, original = results["arms"]["corrected"][0], results["arms"]["original"][0]
    assert original["fp_per_frame"] == pytest.approx(3.0) and corrected["fp_per_frame"] == pytest.approx(1.0)
    assert corrected["recall_2m"] == pytest.approx(1.0) and corrected["precision_2m"] == pytest.approx(2 / 3)
    assert original["untracked_per_frame"] == 0.0 and original["tracked_per_frame"] == pytest.approx(5.0)
