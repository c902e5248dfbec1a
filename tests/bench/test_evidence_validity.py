"""The evidence report's validity rule and its inconclusive label (bench/evidence/validity.py, report.py).

The floor itself is the plugin's (runtime/floor.py, checked against independent
references in tests/unit/test_floor.py); the probe records it for every loss call.
Here the rule is fed runs whose loss sits at a chosen multiple of its floor, and
the real report (in its own metrics venv) a run of both scenarios: an arm at its
floor is labelled so and every comparison involving it is inconclusive; in the
transfer scenario a base at its floor makes every comparison inconclusive; with
every run below its floor the comparisons count.

    python3 harness/testenv.py run --tao 6.25.11 -- python -m pytest -q tests/bench/test_evidence_validity.py
"""
import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
from bench.evidence import runs, validity

FLOOR, DN_FLOOR = 0.8, 0.5
CURVE = [2, 4]


def probe_steps(ratio, steps=20, layers=2):
    """Probe records in which the last layer's main loss is ``ratio`` times its floor at every step."""
    main = {"loss": ratio * FLOOR, "floor": FLOOR}
    dn = {"loss": DN_FLOOR, "floor": DN_FLOOR}
    return [{"step": s, "calls": [main] * layers + [dn] * layers} for s in range(steps)]


def test_validity_labels_a_run_at_its_floor_and_one_below():
    at_floor = validity.validity(probe_steps(1.0), layers=2)
    below = validity.validity(probe_steps(0.5), layers=2)
    assert at_floor["learned"] is False and at_floor["main"]["ratio_tail"] == pytest.approx(1.0)
    assert below["learned"] is True and below["main"]["ratio_tail"] == pytest.approx(0.5)
    assert at_floor["main"]["tail_steps"] == 4  # the last 20 % of 20 steps
    assert below["dn"]["ratio_tail"] == pytest.approx(1.0)


def test_the_rule_is_a_ratio_of_sums_over_the_tail():
    """A step whose floor is ~0 (a class absent from the frame) cannot decide the label by itself."""
    steps = probe_steps(0.5)
    steps[-1]["calls"][1] = {"loss": 0.3, "floor": 1e-12}
    result = validity.validity(steps, layers=2)
    assert result["learned"] and result["main"]["ratio_tail"] == pytest.approx((0.4 * 3 + 0.3) / (0.8 * 3 + 1e-12))


def frame(token, scene, idx, dets):
    """One held-out frame: two ground-truth boxes, ``dets`` as (x, y, class score, track id)."""
    gt = [[0.0, 0.0, 0.5, 0.6, 0.6, 1.7, 0.0], [5.0, 5.0, 0.5, 0.6, 0.6, 1.7, 0.0]]
    boxes = [[x, y, 0.5, 0.6, 0.6, 1.7, 0.0] for x, y, _, _ in dets]
    scores = [s for _, _, s, _ in dets]
    return {"token": token, "scene": scene, "frame_idx": idx, "timestamp": float(idx),
            "det_boxes": boxes, "det_scores": scores, "det_cls_scores": scores, "det_labels": [0] * len(dets),
            "det_ids": [i for *_, i in dets], "query_scores": scores + [0.01], "query_centres": [b[:3] for b in boxes] + [[9.0, 9.0, 0.5]],
            "gt_boxes": gt, "gt_names": ["person", "person"], "gt_ids": [1, 2]}


def write_point(infer, name, false_positives):
    dets = [(0.1, 0.0, 0.9, 1), (5.0, 5.1, 0.8, 2)] + [(-6.0 + k, -6.0, 0.3, 10 + k) for k in range(false_positives)]
    (infer / f"infer_{name}.json").write_text(json.dumps({
        "arm": name, "score_threshold": 0.05, "tracking_threshold": 0.2, "classes": ["person", "nova_carter"],
        "frames": [frame(f"s0_{i}", "s0", i, dets) for i in range(3)]}))


def write_run(scenario_dir, name, mode, ratio):
    probe = scenario_dir / f"probe_{name}"
    probe.mkdir(parents=True)
    (probe / "probe_1.jsonl").write_text("\n".join(json.dumps(s) for s in probe_steps(ratio)))
    return {"name": name, "mode": mode, "steps": 20, "probe": str(probe), "wall_s": 1.0, "results": str(scenario_dir / name),
            "command": f"sparse4d train -e spec.yaml ...={mode}"}


def fake_repeat(tmp, index, ratios):
    """One repeat's runs and inference records; ``ratios[(scenario, arm)]``: the run's loss over its floor.

    False positives per frame: 3 for stock runs, 1 for the fixed ones; the stock fine-tune's curve rises.
    """
    rep = tmp / f"repeat{index}"
    scratch, transfer = rep / "scratch", rep / "transfer"
    for d in (scratch / "infer", transfer / "infer"):
        d.mkdir(parents=True)
    scratch_runs, transfer_runs = [], []
    for mode in ("original", "corrected", "unmatched_only"):
        scratch_runs.append(write_run(scratch, mode, mode, ratios[("scratch", mode)]))
        write_point(scratch / "infer", mode, 3 if mode == "original" else 1)
    for arm, mode in (("original", "original"), ("corrected", "corrected"), ("unmatched_only", "unmatched_only"),
                      ("rescue", "corrected")):
        transfer_runs.append(dict(write_run(transfer, arm, mode, ratios[("transfer", arm)]), arm=arm))
        write_point(transfer / "infer", arm, 3 if arm == "original" else 1)
        if arm != "unmatched_only":
            write_point(transfer / "infer", f"{arm}@2", 2 if arm == "original" else 1)
    return {"repeat": index, "scratch": {"arms": scratch_runs, "infer": str(scratch / "infer")},
            "transfer": {"base": "corrected", "arms": transfer_runs, "infer": str(transfer / "infer")}}


def fake_run(tmp, *ratios):
    """run_info.json of one repeat per ``ratios`` dict (see ``fake_repeat``)."""
    cfg = {"repeats": len(ratios), "parallel": 2, "decoder_layers": 2, "dn_groups": 2, "temp_dn_groups": 1, "anchors": 128,
           "train_frames": 20, "test_scenes": 1, "test_frames": 3, "cameras": 2, "width": 128, "height": 64,
           "camera_radius": 12.0, "ground": "dark", "objects": [2, 2], "area": 7.0, "steps": 20,
           "finetune_steps": 4, "rescue_steps": 4, "checkpoint_every": 2, "curve_steps": CURVE}
    info = {"quick": False, "command": "python3 bench/evidence", "commit": "test", "tao": "6.25.11", "config": cfg,
            "scratch_reasons": ["a test run"], "transfer_reasons": ["a test run"],
            "machine": {"cores": 2, "cpu": "test", "memory": "1 GiB", "platform": "test",
                        "loadavg_start": [0, 0, 0], "loadavg_end": [0, 0, 0]},
            "seeds": {"base_data": 0, "finetune_data": 2000, "heldout_data": 1000, "train.seed": 0},
            "train_wall_s": 4.0, "total_wall_s_before_report": 5.0,
            "repeats": [fake_repeat(tmp, i, r) for i, r in enumerate(ratios)]}
    (tmp / "run_info.json").write_text(json.dumps(info))
    return tmp / "run_info.json"


LEARNED = {(s, a): 0.5 for s in ("scratch", "transfer") for a in ("original", "corrected", "unmatched_only", "rescue")}


@pytest.fixture(scope="module")
def metrics_python():
    return str(runs.metrics_venv())


def run_report(metrics_python, info, out):
    done = subprocess.run([metrics_python, "-m", "bench.evidence.report", "--info", str(info),
                           "--out", str(out)], capture_output=True, text=True, env=runs.clean_env(), cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    return (out / "report.md").read_text(), json.loads((out / "results.json").read_text())


def section(report, title):
    body = report.split(f"## {title}", 1)[1].split("\n## ", 1)[0].split("\n# ", 1)[0]
    return [line for line in body.splitlines() if line.startswith("|")]


def row(lines, label):
    return [c.strip() for c in next(line for line in lines if line.startswith(f"| {label} (")).strip("|").split("|")][1:]


def test_a_stock_run_at_its_floor_makes_its_comparisons_inconclusive(tmp_path, metrics_python):
    ratios = {**LEARNED, ("scratch", "original"): 1.0, ("transfer", "unmatched_only"): 1.02}
    report, results = run_report(metrics_python, fake_run(tmp_path, ratios), tmp_path / "out")
    assert [r["learned"] for r in results["arms"]["original"]] == [False]
    assert "NOT BELOW ITS FLOOR (1.00× floor): has not learned to separate queries" in report
    scratch_row = row(section(report, "8. Repeat by repeat"), "false positives / frame (2 m)")
    assert scratch_row[0] == scratch_row[1] == "inconclusive (an arm at its floor in every repeat)"
    assert scratch_row[2] == "better in 0/1, equal in 1/1 conclusive repeats"  # both fixed: 1 FP each
    transfer_row = row(section(report, "3. Repeat by repeat"), "false positives / frame (2 m)")
    assert transfer_row == ["better in 1/1 conclusive repeats", "inconclusive (an arm at its floor in every repeat)",
                            "inconclusive (an arm at its floor in every repeat)"], transfer_row
    t = results["transfer"]
    assert t["comparisons"]["corrected_vs_original"]["fp_per_frame"] == {
        "better": 1, "worse": 0, "same": 0, "inconclusive": 0, "cannot_tell": 0, "n": 1}
    assert t["arms"]["original"][0]["fp_per_frame"] == pytest.approx(3.0)
    assert t["arms"]["corrected"][0]["precision_2m"] == pytest.approx(2 / 3)


def test_a_base_at_its_floor_makes_the_transfer_scenario_inconclusive(tmp_path, metrics_python):
    ratios = {**LEARNED, ("scratch", "corrected"): 1.1}  # the scratch corrected arm is the base
    report, results = run_report(metrics_python, fake_run(tmp_path, ratios), tmp_path / "out")
    for label in ("false positives / frame (2 m)", "far queries: median score"):
        assert set(row(section(report, "3. Repeat by repeat"), label)) == {
            "inconclusive (an arm at its floor in every repeat)"}
    assert results["transfer"]["rescue"][0]["verdict"] == "inconclusive"
    assert results["transfer"]["base"][0]["learned"] is False


def test_curves_and_rescue_verdict_when_every_run_learned(tmp_path, metrics_python):
    report, results = run_report(metrics_python, fake_run(tmp_path, LEARNED), tmp_path / "out")
    t = results["transfer"]
    assert t["curve_steps"] == CURVE and t["finetune_steps"] == 4
    original = [(p["step"], p["fp_per_frame"]) for p in t["curves"]["original"][0]]
    assert original == [(0, 1.0), (2, 2.0), (4, 3.0)]  # the base, then the stock fine-tune rising
    rescue = [(p["step"], p["fp_per_frame"]) for p in t["curves"]["rescue"][0]]
    assert rescue == [(4, 3.0), (6, 1.0), (8, 1.0)]  # continues the stock fine-tune
    verdict = t["rescue"][0]
    assert verdict["verdict"] == "back at the base's level" and verdict["reached_after"] == 2
    assert set(t["arms"]) == {"original", "corrected", "unmatched_only", "rescue"} and len(t["base"]) == 1
    for record in [*t["base"], *[r for recs in t["arms"].values() for r in recs]]:
        for key in ("detections_per_frame", "fp_per_frame", "fp_per_frame_at_matched_recall", "precision_2m",
                    "recall_2m", "far_detections_per_frame", "far_query_score_median", "new_ids_per_frame",
                    "id_switches_per_matched_gt", "learned", "floor_ratio"):
            assert key in record, key
    assert "| 0 | back at the base's level | 2 |" in report


def test_over_repeats_a_comparison_counts_the_conclusive_ones_and_names_the_rest(tmp_path, metrics_python):
    """Two repeats (the aggregation ``bench/evidence --quick`` ran with two repeats to reach): in repeat 1 the
    scratch stock arm and the transfer base sit at their floor, so each comparison counts repeat 0 only."""
    repeat1 = {**LEARNED, ("scratch", "original"): 1.0, ("scratch", "corrected"): 1.05}
    report, results = run_report(metrics_python, fake_run(tmp_path, LEARNED, repeat1), tmp_path / "out")
    assert results["repeats"] == 2 and results["transfer"]["repeats"] == 2
    assert [r["learned"] for r in results["arms"]["original"]] == [True, False]
    assert [r["learned"] for r in results["transfer"]["base"]] == [True, False]
    for title in ("1. Is each run conclusive?", "6. Is each run conclusive?"):
        header = [c.strip() for c in section(report, title)[0].strip("|").split("|")]
        assert header[1:3] == ["repeat 0", "repeat 1"], (title, header)
    scratch_row = row(section(report, "8. Repeat by repeat"), "false positives / frame (2 m)")
    assert scratch_row[:2] == ["better in 1/1 conclusive repeats; 1 inconclusive"] * 2, scratch_row
    transfer_row = row(section(report, "3. Repeat by repeat"), "false positives / frame (2 m)")
    assert transfer_row[0] == "better in 1/1 conclusive repeats; 1 inconclusive", transfer_row
    assert results["transfer"]["comparisons"]["corrected_vs_original"]["fp_per_frame"] == {
        "better": 1, "worse": 0, "same": 0, "inconclusive": 1, "cannot_tell": 0, "n": 2}
    assert [v["verdict"] for v in results["transfer"]["rescue"]][1] == "inconclusive"


def test_a_degenerate_baseline_value_is_cannot_tell_never_same_or_better():
    """AMOTA clipped at 0, or a NaN, for the baseline: the comparison says it cannot tell (issue 31)."""
    from bench.evidence import report

    learned = {"learned": True}
    stock = [dict(learned, amota=0.0, ids_per_gt_nuscenes=float("nan")), dict(learned, amota=0.2, ids_per_gt_nuscenes=0.1)]
    fixed = [dict(learned, amota=0.0, ids_per_gt_nuscenes=0.05), dict(learned, amota=0.3, ids_per_gt_nuscenes=0.05)]
    amota = report.compare(stock, fixed, "amota", +1)
    assert (amota["cannot_tell"], amota["better"], amota["same"]) == (1, 1, 0)
    ids = report.compare(stock, fixed, "ids_per_gt_nuscenes", -1)
    assert (ids["cannot_tell"], ids["better"]) == (1, 1)
    assert report.verdict(amota) == "better in 1/1 conclusive repeats; cannot tell in 1 (a degenerate value)"
    both = report.compare(stock[:1], fixed[:1], "amota", +1)
    assert report.verdict(both).startswith("cannot tell") and "not worse" not in report.verdict(both)
