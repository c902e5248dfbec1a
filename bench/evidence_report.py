#!/usr/bin/env python
"""Metrics, validity labels, table and figures of bench/evidence.py (runs in the metrics venv).

Reads what bench/evidence.py left for each repeat (the per-frame detections of
bench/evidence_infer.py, the loss-call records of bench/evidence_probe.py, TAO's
TensorBoard scalars) and writes ``report.md``, ``results.json`` and PNG figures.

Every arm of every repeat is first checked against the constant-score floor of its
own classification loss (bench/evidence_floor.py). A comparison between two arms of a
repeat counts only when both left their floor; otherwise it is printed as
*inconclusive*, never as an effect or the absence of one. AP uses nuscenes-devkit's
own ``accumulate`` and ``calc_ap``.

    python bench/evidence_report.py --info WORK/run_info.json --out docs/evidence
"""
import argparse
import json
import math
from pathlib import Path

import numpy as np

import evidence_floor

ARMS = ["original", "corrected", "unmatched_only", "rescue"]
ARM_TITLES = {
    "original": "original (stock TAO)",
    "corrected": "corrected",
    "unmatched_only": "unmatched_only (TAO 7.3.0)",
    "rescue": "rescue (original → corrected)",
}
ARM_MODES = {"original": "original", "corrected": "corrected", "unmatched_only": "unmatched_only", "rescue": "corrected"}
COLORS = {"original": "tab:red", "corrected": "tab:green", "unmatched_only": "tab:orange", "rescue": "tab:blue"}
AP_DISTS = [0.5, 1.0, 2.0, 4.0]
MATCH_DIST = 2.0  # metres, centre distance in the ground plane (nuScenes' center_distance)
THRESHOLDS = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
MATCHED_RECALL_CAP = 0.8
# nuScenes' DetectionBox only accepts its own class names: a label mapping, nothing else.
NUSC_NAME = {"person": "pedestrian", "nova_carter": "car"}

# (label, key, format, which direction is better for the fix: -1 lower, +1 higher, 0 no direction)
ROWS = [
    ("ground-truth boxes / frame", "gt_per_frame", "{:.2f}", 0),
    ("detections / frame (score ≥ 0.05, the decoder's threshold)", "detections_per_frame", "{:.1f}", -1),
    ("… farther than 2 m from every object", "far_detections_per_frame", "{:.1f}", -1),
    ("false positives / frame (2 m)", "fp_per_frame", "{:.1f}", -1),
    ("precision (2 m)", "precision_2m", "{:.3f}", +1),
    ("recall (2 m)", "recall_2m", "{:.3f}", +1),
    ("false positives / frame at matched recall", "fp_per_frame_at_matched_recall", "{:.1f}", -1),
    ("… the matched recall", "matched_recall", "{:.2f}", 0),
    ("detections below tracking_threshold 0.2 (no track ID) / frame", "untracked_per_frame", "{:.1f}", -1),
    ("tracked detections (score ≥ 0.2) / frame", "tracked_per_frame", "{:.1f}", 0),
    ("new track IDs / frame (after a scene's first frame)", "new_ids_per_frame", "{:.1f}", -1),
    ("ID switches / matched ground-truth box", "id_switches_per_matched_gt", "{:.3f}", -1),
    ("AMOTA, class-agnostic (nuscenes-devkit tracking)", "amota", "{:.3f}", +1),
    ("ID switches / ground-truth box at best MOTA (nuscenes-devkit)", "ids_per_gt_nuscenes", "{:.3f}", -1),
    ("mAP, mean of 0.5/1/2/4 m (nuscenes-devkit)", "map_mean", "{:.3f}", +1),
    ("AP @ 2 m, class-agnostic (nuscenes-devkit)", "ap_agnostic_2m", "{:.3f}", +1),
    ("far queries: median score", "far_query_score_median", "{:.3f}", -1),
    ("query-score spread within a frame (max − min)", "query_score_spread", "{:.3f}", 0),
    ("last layer's loss_cls / its constant-score floor (last 20 % of steps)", "floor_ratio", "{:.2f}", 0),
]
COMPARED = ["corrected", "unmatched_only", "rescue"]


def xy_dist(a, b):
    """Pairwise ground-plane centre distances between [N,>=2] and [M,>=2]."""
    a = np.asarray(a, float).reshape(-1, np.shape(a)[-1] if len(a) else 2)[:, :2]
    b = np.asarray(b, float).reshape(-1, np.shape(b)[-1] if len(b) else 2)[:, :2]
    if not len(a) or not len(b):
        return np.full((len(a), len(b)), np.inf)
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)


def greedy_match(det_boxes, det_scores, gt_boxes, dist_th=MATCH_DIST):
    """nuScenes-style matching: detections by descending score, each to the nearest unmatched GT within dist_th.

    Class-agnostic. Returns det->gt index (-1 unmatched)."""
    d = xy_dist(det_boxes, gt_boxes)
    order = np.argsort(-np.asarray(det_scores, float), kind="stable")
    taken = np.zeros(len(gt_boxes), bool)
    match = np.full(len(det_scores), -1)
    for i in order:
        if not len(gt_boxes):
            break
        cand = np.where(~taken, d[i], np.inf)
        j = int(np.argmin(cand))
        if cand[j] < dist_th:
            match[i], taken[j] = j, True
    return match


def at_threshold(frames, threshold):
    """Detections, true positives and ground truth summed over frames, keeping class scores ≥ threshold."""
    dets = tp = gts = 0
    for f in frames:
        keep = np.asarray(f["det_cls_scores"], float) >= threshold
        boxes = np.asarray(f["det_boxes"], float).reshape(-1, 7)[keep]
        scores = np.asarray(f["det_scores"], float)[keep]
        dets += int(keep.sum())
        gts += len(f["gt_boxes"])
        tp += int((greedy_match(boxes, scores, f["gt_boxes"]) >= 0).sum())
    n = max(len(frames), 1)
    return {"threshold": threshold, "detections_per_frame": dets / n, "fp_per_frame": (dets - tp) / n,
            "recall": tp / gts if gts else 0.0, "precision": tp / dets if dets else 0.0}


def threshold_curve(frames, thresholds=THRESHOLDS):
    return [at_threshold(frames, t) for t in thresholds]


def fp_at_recall(frames, recall):
    """False positives per frame at the highest class-score threshold whose recall still reaches ``recall``."""
    scores = np.unique(np.concatenate([np.asarray(f["det_cls_scores"], float) for f in frames] or [np.zeros(0)]))
    for t in np.quantile(scores, np.linspace(1, 0, 101)) if scores.size else []:
        point = at_threshold(frames, t)
        if point["recall"] >= recall - 1e-9:
            return point["fp_per_frame"]
    return None


def arm_metrics(data):
    """Detection and tracking metrics of one arm on the held-out frames (TAO's decoder output)."""
    frames = data["frames"]
    thr, track_thr = data["score_threshold"], data.get("tracking_threshold", 0.2)
    n = len(frames)
    det_total = gt_total = tp = far_dets = untracked = 0
    new_ids = new_frames = switches = matched_gt = 0
    far_scores, spreads, seen, last_id_of_gt, scene = [], [], set(), {}, None
    for f in frames:
        first = f["scene"] != scene
        if first:
            scene, seen, last_id_of_gt = f["scene"], set(), {}
        dets, gts = f["det_boxes"], f["gt_boxes"]
        det_total += len(dets)
        gt_total += len(gts)
        untracked += int((np.asarray(f["det_cls_scores"], float) < track_thr).sum())
        m = greedy_match(dets, f["det_scores"], gts)
        tp += int((m >= 0).sum())
        dmin = xy_dist(dets, gts).min(axis=1) if len(gts) else np.full(len(dets), np.inf)
        far_dets += int((dmin > MATCH_DIST).sum())
        ids = f["det_ids"]
        if not first:
            new_frames += 1
            new_ids += sum(i not in seen for i in ids)
        seen.update(ids)
        for di, gi in enumerate(m):  # ID switch: a ground-truth track matched to another ID than at its last match
            if gi < 0:
                continue
            gid, pid = f["gt_ids"][gi], ids[di]
            matched_gt += 1
            if gid in last_id_of_gt and last_id_of_gt[gid] != pid:
                switches += 1
            last_id_of_gt[gid] = pid
        qd = xy_dist(f["query_centres"], gts).min(axis=1) if len(gts) else np.full(len(f["query_scores"]), np.inf)
        far_scores += [s for s, dd in zip(f["query_scores"], qd) if dd > MATCH_DIST]
        spreads.append(max(f["query_scores"]) - min(f["query_scores"]))
    far_scores = np.asarray(far_scores, float)
    return {
        "frames": n,
        "gt_per_frame": gt_total / n,
        "detections_per_frame": det_total / n,
        "fp_per_frame": (det_total - tp) / n,
        "precision_2m": tp / det_total if det_total else 0.0,
        "recall_2m": tp / gt_total if gt_total else 0.0,
        "far_detections_per_frame": far_dets / n,
        "untracked_per_frame": untracked / n,
        "tracked_per_frame": (det_total - untracked) / n,
        "new_ids_per_frame": new_ids / max(new_frames, 1),
        "id_switches": switches,
        "id_switches_per_matched_gt": switches / max(matched_gt, 1),
        "far_query_count": int(far_scores.size),
        "far_query_score_median": float(np.median(far_scores)) if far_scores.size else 0.0,
        "far_query_frac_above_thr": float((far_scores >= thr).mean()) if far_scores.size else 0.0,
        "query_score_spread": float(np.mean(spreads)),
        "threshold_curve": threshold_curve(frames),
        "_far_scores": far_scores.tolist(),
    }


def nuscenes_ap(data, agnostic=False):
    """Per-class AP at each centre distance with nuscenes-devkit's accumulate / calc_ap; mAP = mean over classes.

    ``agnostic``: every box (ground truth and detection) under one class name, so only localisation and
    ranking count, not the predicted class."""
    from pyquaternion import Quaternion
    from nuscenes.eval.common.data_classes import EvalBoxes
    from nuscenes.eval.common.utils import center_distance
    from nuscenes.eval.detection.algo import accumulate, calc_ap
    from nuscenes.eval.detection.data_classes import DetectionBox

    classes = data["classes"]
    gt, pred = EvalBoxes(), EvalBoxes()
    name_of = (lambda n: "car") if agnostic else NUSC_NAME.get

    def box(token, b, name, score=-1.0):
        return DetectionBox(sample_token=token, translation=tuple(map(float, b[:3])), size=tuple(map(float, b[3:6])),
                            rotation=tuple(Quaternion(axis=[0, 0, 1], angle=float(b[6])).elements),
                            velocity=(0.0, 0.0), detection_name=name, detection_score=float(score), attribute_name="")

    for f in data["frames"]:
        gt.add_boxes(f["token"], [box(f["token"], b, name_of(n)) for b, n in zip(f["gt_boxes"], f["gt_names"])])
        pred.add_boxes(f["token"], [box(f["token"], b, name_of(classes[l]), s)
                                    for b, l, s in zip(f["det_boxes"], f["det_labels"], f["det_scores"])])
    present = sorted({name_of(n) for f in data["frames"] for n in f["gt_names"]})
    ap = {}
    for dist in AP_DISTS:
        per_class = {name: float(calc_ap(accumulate(gt, pred, name, center_distance, dist), 0.1, 0.1)) for name in present}
        ap[str(dist)] = float(np.mean(list(per_class.values()))) if per_class else 0.0
    return ap


def nuscenes_tracking(data):
    """AMOTA, and MOTA / ID switches at the best-MOTA threshold, from nuscenes-devkit's own tracking evaluation.

    Class-agnostic (every box as ``car``): ID continuity, not the predicted class. As the devkit's
    loader does, a predicted track's score is the mean of its boxes' scores; the devkit then sweeps
    the score threshold itself. Scenes are the held-out scenes, each frame its timestamp.
    """
    from nuscenes.eval.common.config import config_factory
    from nuscenes.eval.common.utils import center_distance
    from nuscenes.eval.tracking.algo import TrackingEvaluation
    from nuscenes.eval.tracking.constants import AVG_METRIC_MAP
    from nuscenes.eval.tracking.data_classes import TrackingBox, TrackingMetricData
    from pyquaternion import Quaternion

    cfg = config_factory("tracking_nips_2019")
    track_scores = {}
    for f in data["frames"]:
        for track, score in zip(f["det_ids"], f["det_scores"]):
            track_scores.setdefault((f["scene"], track), []).append(score)

    def box(f, b, track, score=-1.0):
        return TrackingBox(sample_token=f["token"], translation=tuple(map(float, b[:3])), size=tuple(map(float, b[3:6])),
                           rotation=tuple(Quaternion(axis=[0, 0, 1], angle=float(b[6])).elements), velocity=(0.0, 0.0),
                           tracking_id=str(track), tracking_name="car", tracking_score=float(score))

    gt, pred = {}, {}
    for f in data["frames"]:
        stamp = int(round(f["timestamp"] * 1e6))
        gt.setdefault(f["scene"], {})[stamp] = [box(f, b, i) for b, i in zip(f["gt_boxes"], f["gt_ids"])]
        pred.setdefault(f["scene"], {})[stamp] = [box(f, b, i, np.mean(track_scores[(f["scene"], i)]))
                                                  for b, i in zip(f["det_boxes"], f["det_ids"])]
    md = TrackingEvaluation(gt, pred, "car", center_distance, cfg.dist_th_tp, cfg.min_recall,
                            TrackingMetricData.nelem, cfg.metric_worst, verbose=False).accumulate()
    motar = np.array(md.get_metric(AVG_METRIC_MAP["amota"]), float)
    if np.all(np.isnan(motar)):
        return {"amota": 0.0, "mota": 0.0, "ids": None, "ids_per_gt": None}
    motar[np.isnan(motar)] = cfg.metric_worst["amota"]
    mota = np.array(md.get_metric("mota"), float)
    best = int(np.nanargmax(mota)) if not np.all(np.isnan(mota)) else None
    gt_boxes = sum(len(f["gt_boxes"]) for f in data["frames"])
    ids = None if best is None else float(md.get_metric("ids")[best])
    return {"amota": float(np.mean(motar)), "mota": 0.0 if best is None else float(mota[best]),
            "ids": ids, "ids_per_gt": None if ids is None else ids / max(gt_boxes, 1)}


def repeat_records(rep, layers, with_ap=True):
    """{arm: record} for one repeat: metrics, AP, floor validity, matched-recall false positives."""
    infer = Path(rep["infer"])
    records, frames = {}, {}
    for arm_run in rep["arms"]:
        arm = arm_run["arm"]
        data = json.loads((infer / f"infer_{arm}.json").read_text())
        frames[arm] = data["frames"]
        rec = arm_metrics(data)
        if with_ap:
            rec["ap"] = nuscenes_ap(data)
            rec["map_mean"] = float(np.mean(list(rec["ap"].values())))
            rec["ap_agnostic"] = nuscenes_ap(data, agnostic=True)
            rec["ap_agnostic_2m"] = rec["ap_agnostic"][str(MATCH_DIST)]
            rec["tracking"] = nuscenes_tracking(data)
            rec["amota"] = rec["tracking"]["amota"]
            rec["ids_per_gt_nuscenes"] = rec["tracking"]["ids_per_gt"]
        steps = evidence_floor.read_probe(arm_run["probe"])
        rec["validity"] = evidence_floor.validity(steps, ARM_MODES[arm], layers)
        rec["learned"] = rec["validity"]["learned"]
        main = rec["validity"]["main"]
        rec["floor_ratio"] = main["ratio_tail"] if main else float("nan")
        rec["steps_run"] = len(steps)
        rec["_floor_trace"] = evidence_floor.floor_series(steps, ARM_MODES[arm], layers - 1)  # (losses, floors)
        rec["wall_s"] = arm_run["wall_s"]
        records[arm] = rec
    # one recall for every arm of the repeat: the lowest best recall of any arm, at most MATCHED_RECALL_CAP
    matched = min([MATCHED_RECALL_CAP] + [r["threshold_curve"][0]["recall"] for r in records.values()])
    for arm, rec in records.items():
        rec["matched_recall"] = matched
        fp = fp_at_recall(frames[arm], matched)
        rec["fp_per_frame_at_matched_recall"] = float("nan") if fp is None else fp
    return records


def spread(values):
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return None
    return {"mean": float(np.mean(values)), "min": float(np.min(values)), "max": float(np.max(values))}


def compare(records_by_arm, arm, key, direction, baseline="original"):
    """How ``arm`` compares with ``baseline`` on ``key`` over the repeats where both left their floor.

    Returns {"better", "worse", "same", "inconclusive", "n"}: repeats in each class. A repeat where either
    arm is still at its constant-score floor is inconclusive: its numbers say nothing either way.
    """
    out = {"better": 0, "worse": 0, "same": 0, "inconclusive": 0, "n": 0}
    for base, other in zip(records_by_arm[baseline], records_by_arm[arm]):
        out["n"] += 1
        a, b = base.get(key), other.get(key)
        if not (base["learned"] and other["learned"]) or a is None or b is None or math.isnan(a) or math.isnan(b):
            out["inconclusive"] += 1
        elif math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
            out["same"] += 1
        elif (b - a) * direction > 0:
            out["better"] += 1
        else:
            out["worse"] += 1
    return out


def verdict(counts):
    """One phrase for a comparison; never an effect from inconclusive repeats."""
    conclusive = counts["n"] - counts["inconclusive"]
    if conclusive == 0:
        return "inconclusive (an arm at its floor in every repeat)"
    parts = [f"better in {counts['better']}/{conclusive}"]
    if counts["worse"]:
        parts.append(f"worse in {counts['worse']}/{conclusive}")
    if counts["same"]:
        parts.append(f"equal in {counts['same']}/{conclusive}")
    text = ", ".join(parts) + " conclusive repeats"
    if counts["inconclusive"]:
        text += f"; {counts['inconclusive']} inconclusive"
    return text


def validity_label(record):
    main = record["validity"]["main"]
    if main is None:
        return "no loss recorded"
    if record["learned"]:
        return f"learned ({main['ratio_tail']:.2f}× floor)"
    return f"NOT BELOW ITS FLOOR ({main['ratio_tail']:.2f}× floor): has not learned to separate queries"


def cell(summary, fmt):
    if summary is None:
        return "n/a"
    if math.isclose(summary["min"], summary["max"], rel_tol=1e-12, abs_tol=1e-12):
        return fmt.format(summary["mean"])
    return f"{fmt.format(summary['mean'])} ({fmt.format(summary['min'])}–{fmt.format(summary['max'])})"


def moving_average(y, k):
    y = np.asarray(y, float)
    if len(y) < 2 * k or k < 2:
        return y
    c = np.convolve(y, np.ones(k) / k, mode="valid")
    return np.concatenate([np.full(k - 1, np.nan), c])


def figures(out, arms, records):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    # 1. false positives and recall over the class-score threshold; false positives against recall
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for arm in arms:
        curves = [r["threshold_curve"] for r in records[arm]]
        t = [p["threshold"] for p in curves[0]]
        for ax, key in zip(axes[:2], ("fp_per_frame", "recall")):
            y = np.array([[p[key] for p in c] for c in curves])
            ax.plot(t, y.mean(0), color=COLORS[arm], lw=1.8, marker="o", ms=3, label=ARM_TITLES[arm])
            ax.fill_between(t, y.min(0), y.max(0), color=COLORS[arm], alpha=0.15)
        for i, c in enumerate(curves):
            axes[2].plot([p["recall"] for p in c], [p["fp_per_frame"] for p in c], color=COLORS[arm], lw=1.2,
                         marker="o", ms=2.5, alpha=0.8, label=ARM_TITLES[arm] if i == 0 else None)
    axes[0].set_ylabel("false positives / frame (2 m)")
    axes[0].set_yscale("symlog", linthresh=1)
    axes[1].set_ylabel("recall (2 m)")
    axes[1].set_ylim(0, 1.02)
    for ax in axes[:2]:
        ax.set_xlabel("class-score threshold (TAO's decoder: 0.05; tracking output: 0.2)")
        ax.axvline(0.05, color="k", ls="--", lw=0.8)
        ax.axvline(0.2, color="k", ls=":", lw=0.8)
    axes[2].set_xlabel("recall (2 m)")
    axes[2].set_ylabel("false positives / frame")
    axes[2].set_yscale("symlog", linthresh=1)
    axes[2].set_title("one curve per repeat, thresholds 0.05 … 0.9", fontsize=9)
    axes[0].legend(fontsize=8)
    fig.suptitle("held-out scenes: mean over repeats, band = min–max", fontsize=10)
    fig.tight_layout()
    written.append(_save(fig, out / "threshold_curves.png"))

    # 2. the validity check over training: loss / floor of the last decoder layer's main queries
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for arm in arms:
        for i, rec in enumerate(records[arm]):
            losses, floors = rec["_floor_trace"]
            if not len(losses):
                continue
            ratio = losses / np.maximum(floors, 1e-12)
            x = np.arange(len(ratio)) + (records["original"][i]["steps_run"] if arm == "rescue" else 0)
            ax.plot(x, moving_average(ratio, max(1, len(ratio) // 25)), color=COLORS[arm], lw=1.2, alpha=0.85,
                    label=ARM_TITLES[arm] if i == 0 else None)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.axhline(evidence_floor.LEARNED_RATIO, color="k", ls="--", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("training step (rescue continues after original)")
    ax.set_ylabel("loss_cls (last layer) / constant-score floor")
    ax.set_title("below 1: the classifier uses its input; dashed: the 'learned' line", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    written.append(_save(fig, out / "floor_ratio.png"))

    # 3. score histograms of queries far (> 2 m) from every ground-truth box, all repeats pooled
    fig, axes = plt.subplots(len(arms), 1, figsize=(7, 1.9 * len(arms)), sharex=True)
    bins = np.linspace(0, 1, 51)
    for ax, arm in zip(np.atleast_1d(axes), arms):
        s = np.concatenate([np.asarray(r["_far_scores"], float) for r in records[arm]])
        ax.hist(s, bins=bins, color=COLORS[arm], alpha=0.8)
        ax.axvline(0.05, color="k", ls="--", lw=1)
        ax.set_yscale("log")
        ax.set_ylim(0.8, max(10, len(s)) * 1.5)
        ax.set_ylabel("queries")
        ax.set_title(f"{ARM_TITLES[arm]}: {(s >= 0.05).mean() if s.size else 0:.0%} of {s.size} pass 0.05",
                     fontsize=9, loc="left")
    np.atleast_1d(axes)[-1].set_xlabel("max-class score of queries > 2 m from every ground-truth box (held-out scenes)")
    fig.tight_layout()
    written.append(_save(fig, out / "far_query_scores.png"))
    return written


def _save(fig, path):
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def fmt_s(s):
    return f"{s / 60:.1f} min" if s >= 90 else f"{s:.0f} s"


def report(out, arms, records, summary, comparisons, info):
    cfg, m = info["config"], info["machine"]
    n = cfg["repeats"]
    lines = [
        "# Evidence: background supervision on TAO's real Sparse4D",
        "",
        f"_Generated by `{info['command']}` (commit {info.get('commit') or '?'}); do not edit by hand._",
        "",
    ]
    if info["quick"]:
        lines += ["**QUICK smoke run: a handful of steps; the numbers below say nothing about the fix.**", ""]
    lines += [
        f"TAO's own `sparse4d train -e spec.yaml` (nvidia-tao-pytorch {info['tao']}, the plugin enabled with "
        "`TAO_SPARSE4D_FIX=1`), one run per arm and repeat, the arm selected by the Hydra override "
        "`model.head.loss.cls.background_supervision=<mode>`; then TAO's inference path on held-out scenes rendered "
        "from another seed: eval mode, the decoder's score threshold 0.05, track IDs from the instance bank across "
        f"each scene's frames. {n} repeat{'s' if n != 1 else ''}; every figure is the mean (min–max) over them.",
        "",
        "## 1. Is each run conclusive?",
        "",
        "A head that ignores its input gives every query of a frame the same score: the constant that minimises its "
        "loss for the run's label counts (its *constant-score floor*). A run still there says nothing about the fix "
        "either way. `learned`: over the last 20 % of steps the last decoder layer's classification loss is below "
        f"{evidence_floor.LEARNED_RATIO} × its floor (bench/evidence_floor.py).",
        "",
        "| arm | " + " | ".join(f"repeat {i}" for i in range(n)) + " | query-score spread in a frame |",
        "|---" * (n + 2) + "|",
    ]
    for arm in arms:
        lines.append(f"| {ARM_TITLES[arm]} | " + " | ".join(validity_label(r) for r in records[arm])
                     + f" | {cell(summary[arm]['query_score_spread'], '{:.3f}')} |")
    lines += ["", "## 2. Results on held-out scenes", "",
              "| metric | " + " | ".join(f"{ARM_TITLES[a]}<br>{records[a][0]['steps_run']} steps"
                                        + (" after original" if a == "rescue" else "") for a in arms) + " |",
              "|---" + "|---:" * len(arms) + "|"]
    for label, key, fmt, _ in ROWS:
        lines.append(f"| {label} | " + " | ".join(cell(summary[a][key], fmt) for a in arms) + " |")
    lines += ["", "## 3. Against stock TAO (`original`), repeat by repeat", "",
              "Counted only over repeats where both arms left their floor; a repeat with an arm at its floor is "
              "inconclusive.", "",
              "| metric | " + " | ".join(ARM_TITLES[a] for a in arms if a in COMPARED) + " |",
              "|---" + "|---" * len([a for a in arms if a in COMPARED]) + "|"]
    for label, key, _, direction in ROWS:
        if direction:
            lines.append(f"| {label} ({'lower' if direction < 0 else 'higher'} is better) | "
                         + " | ".join(verdict(comparisons["vs_original"][a][key]) for a in arms if a in COMPARED) + " |")
    if "corrected" in arms and "unmatched_only" in arms:
        lines += ["", "## 4. `corrected` against `unmatched_only` (the loss TAO 7.3.0 ships), repeat by repeat", "",
                  "What supervising the denoising negatives (`-3`) and lost temporal tracks (`-1`) adds on top of "
                  "TAO 7.3.0's own change (label `C` as background). Same rule: only repeats where both left their floor.",
                  "", "| metric | corrected vs unmatched_only |", "|---|---|"]
        for label, key, _, direction in ROWS:
            if direction:
                lines.append(f"| {label} ({'lower' if direction < 0 else 'higher'} is better) | "
                             f"{verdict(comparisons['corrected_vs_unmatched_only'][key])} |")
    lines += [
        "",
        "![false positives and recall over the score threshold](threshold_curves.png)",
        "",
        "![loss over its constant-score floor during training](floor_ratio.png)",
        "",
        "![score histograms of far-from-object queries](far_query_scores.png)",
        "",
        "## Set-up (fixed before its results were seen; the same for every arm)",
        "",
    ]
    lines += [f"- {reason}" for reason in info["setup_reasons"]]
    by_arm = {}
    for rep in info["repeats"]:
        for run in rep["arms"]:
            by_arm.setdefault(run["arm"], []).append(run)
    lines += [
        f"- Machine: {m['cores']} CPU cores ({m['cpu']}), {m['memory']} RAM, no GPU; {m['platform']}; "
        f"load average at start {', '.join(f'{x:.1f}' for x in m['loadavg_start'])}, at the end "
        f"{', '.join(f'{x:.1f}' for x in m.get('loadavg_end', []))} (the machine may have been shared: timings "
        f"are indicative). {cfg['parallel']} TAO processes at a time, one intra-op thread each.",
        f"- Wall time: {fmt_s(info['total_wall_s'])} in all (training {fmt_s(info['train_wall_s'])} of process time).",
        "- Per arm (mean over repeats): " + "; ".join(
            f"{a} {fmt_s(np.mean([r['wall_s'] for r in by_arm[a]]))}" for a in arms) + ".",
        f"- Data (harness/synthetic_data.py): per repeat r, training {cfg['train_scenes']} scenes × "
        f"{cfg['train_frames']} frames (seed {info['seeds']['train_data']} + r), held-out {cfg['test_scenes']} scenes "
        f"× {cfg['test_frames']} frames (seed {info['seeds']['heldout_data']} + r); {cfg['cameras']} cameras at "
        f"{cfg['height']}×{cfg['width']}, {cfg['camera_radius']:g} m from the centre; ground `{cfg['ground']}`; "
        f"{cfg['objects'][0]}-{cfg['objects'][1]} moving boxes starting in ±{cfg['area']:g} m (person, nova_carter).",
        f"- Model: TAO's Sparse4D (ResNet-101 from the harness's calibrated-BatchNorm stand-in checkpoint), "
        f"{cfg['decoder_layers']} decoder layers, {cfg['dn_groups']} + {cfg['temp_dn_groups']} denoising groups, "
        f"{cfg['anchors']} anchors, {cfg['anchors'] // 2} temporal instances, decoder num_output {cfg['anchors']}, "
        f"fp32, batch 1, lr 2e-4, training seed {info['seeds']['train.seed']} + r; spec harness/specs/tiny_train.yaml "
        "(with `cls_threshold_to_reg: -1`, so the stock arm does not hit the yawness NaN).",
        "- Commands (in the harness env, `TAO_SPARSE4D_FIX=1`):",
    ]
    for a in arms:
        lines.append(f"  - {a}: `{by_arm[a][0]['command']}`")
    lines += [
        "- Rescue arm: starts from the same repeat's original checkpoint through TAO's `train.pretrained_model_path` "
        "(weights only: fresh optimizer and LR schedule) and trains with `corrected`, backbone frozen with "
        "`train.optim.paramwise_cfg.custom_keys.img_backbone.lr_mult=0.0` (TAO's only per-module knob).",
        "",
        "## Definitions",
        "",
        "- Detections: what TAO's `SparseBox3DDecoder.decode` returns (queries whose max-class sigmoid score is ≥ 0.05). "
        "Curves and the matched recall raise that class-score threshold; matching ranks by the decoder's score.",
        "- Matching for false positives, precision, recall and ID switches: class-agnostic, nuScenes-style greedy "
        "(descending score, nearest unmatched ground-truth box) within 2 m centre distance in the ground plane.",
        f"- False positives at matched recall: per repeat one recall for every arm, the lowest recall any arm reaches "
        f"at 0.05 (at most {MATCHED_RECALL_CAP}); each arm's false positives per frame at the highest class-score "
        "threshold that still reaches it. It does not depend on where an arm's scores sit.",
        "- Tracking output: TAO's tracking results keep only detections whose class score is ≥ the dataset's "
        "`tracking_threshold` (0.2); the others carry no track ID.",
        "- New track IDs: IDs in a frame's detections not seen earlier in the same scene, over every frame but a "
        "scene's first. ID switches per matched ground-truth box: a ground-truth track matched at 0.05 to another "
        "ID than at its previous match.",
        "- AMOTA and the devkit's ID switches: nuscenes-devkit 1.2.0's own `TrackingEvaluation` (motmetrics 1.4.0) on "
        "the held-out scenes, class-agnostic, 2 m centre distance, a track's score the mean of its boxes' scores as "
        "the devkit's loader makes it; ID switches at the threshold of best MOTA, per ground-truth box.",
        "- mAP: nuscenes-devkit 1.2.0 `accumulate` (centre distance) and `calc_ap` (min recall 0.1, min precision 0.1) "
        "per class, averaged over the classes present (person, nova_carter passed as `pedestrian`, `car`).",
        "- Far-query scores: the max-class score of every final-layer query whose centre is > 2 m from every "
        "ground-truth box. Spread: max − min of the query scores of a frame, averaged over frames.",
        "",
        "Machine-readable numbers: [results.json](results.json).",
        "",
    ]
    (out / "report.md").write_text("\n".join(lines))


def summarise(arms, records):
    return {arm: {key: spread([r.get(key) for r in records[arm]]) for _, key, _, _ in ROWS} for arm in arms}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--info", required=True, help="run_info.json written by bench/evidence.py")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    info = json.loads(Path(a.info).read_text())
    layers = info["config"]["decoder_layers"]
    per_repeat = [repeat_records(rep, layers) for rep in info["repeats"]]
    arms = [arm for arm in ARMS if all(arm in recs for recs in per_repeat)]
    records = {arm: [recs[arm] for recs in per_repeat] for arm in arms}
    summary = summarise(arms, records)
    directed = [(key, d) for _, key, _, d in ROWS if d]
    comparisons = {"vs_original": {arm: {key: compare(records, arm, key, d) for key, d in directed}
                                   for arm in arms if arm in COMPARED}}
    if "corrected" in arms and "unmatched_only" in arms:
        comparisons["corrected_vs_unmatched_only"] = {
            key: compare(records, "corrected", key, d, baseline="unmatched_only") for key, d in directed}
    info["total_wall_s"] = info.get("total_wall_s_before_report", 0.0)
    figs = figures(out, arms, records)
    report(out, arms, records, summary, comparisons, info)
    public = {arm: [{k: v for k, v in r.items() if not k.startswith("_")} for r in records[arm]] for arm in arms}
    (out / "results.json").write_text(json.dumps(
        {"repeats": len(per_repeat), "arms": public, "summary": summary, "comparisons": comparisons, "run": info},
        indent=1, default=float))
    for f in figs:
        print(f"wrote {f} ({f.stat().st_size / 1024:.0f} KB)")
    print(f"wrote {out / 'report.md'}")


if __name__ == "__main__":
    main()
