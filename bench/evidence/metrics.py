"""Detection and tracking metrics of one arm on the held-out frames (runs in the metrics venv).

Reads the per-frame records infer.py writes (TAO's decoder output, every query's
score and centre, the ground truth). Matching is class-agnostic and nuScenes-style;
AP and AMOTA come from nuscenes-devkit's own code.
"""
import copy
import functools
import hashlib
import json
import math

import numpy as np

AP_DISTS = [0.5, 1.0, 2.0, 4.0]
MATCH_DIST = 2.0  # metres, centre distance in the ground plane (nuScenes' center_distance)
THRESHOLDS = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
MATCHED_RECALL_CAP = 0.8
# nuScenes' DetectionBox only accepts its own class names: a label mapping, nothing else.
NUSC_NAME = {"person": "pedestrian", "nova_carter": "car"}

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
    """AMOTA, and MOTA / ID switches at the best-MOTA threshold, from nuscenes-devkit's own tracking evaluation
    (``devkit_tracking``). Kept for the earlier sections' keys: AMOTA and MOTA read 0.0 where the devkit reaches no
    recall threshold, IDS None; the field's keys (``field_record``) keep the devkit's NaN."""
    dev = devkit_tracking(data)
    gt_boxes = sum(len(f["gt_boxes"]) for f in data["frames"])
    ids = None if math.isnan(dev["ids"]) else dev["ids"]
    return {"amota": 0.0 if math.isnan(dev["amota"]) else dev["amota"], "mota": 0.0 if math.isnan(dev["mota"]) else dev["mota"],
            "ids": ids, "ids_per_gt": None if ids is None else ids / max(gt_boxes, 1)}


def devkit_metrics(data):
    """nuscenes-devkit's AP (per class and class-agnostic) and tracking metrics of one arm."""
    ap = nuscenes_ap(data)
    agnostic = nuscenes_ap(data, agnostic=True)
    tracking = nuscenes_tracking(data)
    return {"ap": ap, "map_mean": float(np.mean(list(ap.values()))), "ap_agnostic": agnostic,
            "ap_agnostic_2m": agnostic[str(MATCH_DIST)], "tracking": tracking, "amota": tracking["amota"],
            "ids_per_gt_nuscenes": tracking["ids_per_gt"]}


def tracking_metrics(data):
    """ID persistence, false-positive tracks and fragments on TAO's tracked output (scores ≥ tracking_threshold).

    Per frame, tracked detections are matched greedily within 2 m to the ground truth (as ``arm_metrics``).
    ``id_persistence``: of the pairs of consecutive frames of a scene in which a ground-truth object is matched
    in both, the share that keep the same ID. ``fp_tracks_per_frame``: tracked detections with no object within
    2 m; ``fp_far_track_lifetime_frames``: the mean number of frames in which each ID that was ever such a false
    positive appears among the tracked detections. ``fragments_per_gt_track``: distinct IDs matched to one
    ground-truth track, over the tracks matched at least once (1.0 = one ID for the whole track).
    """
    track_thr = data.get("tracking_threshold", 0.2)
    kept = same = fp = frames = 0
    ids_of_gt, fp_ids, frames_of_id = {}, set(), {}
    scene, last = None, {}
    for f in data["frames"]:
        if f["scene"] != scene:
            scene, last = f["scene"], {}
        frames += 1
        keep = np.asarray(f["det_cls_scores"], float) >= track_thr
        boxes = np.asarray(f["det_boxes"], float).reshape(-1, 7)[keep]
        scores = np.asarray(f["det_scores"], float)[keep]
        ids = [(f["scene"], i) for i, k in zip(f["det_ids"], keep) if k]
        for i in ids:
            frames_of_id[i] = frames_of_id.get(i, 0) + 1
        gts = f["gt_boxes"]
        dmin = xy_dist(boxes, gts).min(axis=1) if len(gts) else np.full(len(boxes), np.inf)
        for i, d in zip(ids, dmin):
            if d > MATCH_DIST:
                fp += 1
                fp_ids.add(i)
        now = {}
        for di, gi in enumerate(greedy_match(boxes, scores, gts)):
            if gi >= 0:
                gid = (f["scene"], f["gt_ids"][gi])
                now[gid] = ids[di]
                ids_of_gt.setdefault(gid, set()).add(ids[di])
        for gid, pid in now.items():
            if gid in last:
                kept += 1
                same += int(last[gid] == pid)
        last = now
    return {
        "id_persistence": same / kept if kept else None,
        "consecutive_matched_pairs": kept,
        "fp_tracks_per_frame": fp / max(frames, 1),
        "fp_far_track_lifetime_frames": float(np.mean([frames_of_id[i] for i in fp_ids])) if fp_ids else 0.0,
        "fragments_per_gt_track": float(np.mean([len(v) for v in ids_of_gt.values()])) if ids_of_gt else None,
        "gt_tracks_matched": len(ids_of_gt),
    }


def temporal_query_diagnostics(data):
    """Which query kind sits on the objects at inference: temporal instances (queries ``0..num_temp-1`` once the
    instance bank carried them) or fresh queries. Over frames the bank carried: the share of objects whose
    best-scoring query within 2 m is a temporal instance, and the median score of each kind within 2 m."""
    num_temp = data["num_temp_instances"]
    carried = [f for f in data["frames"] if f.get("carried")]
    best_temporal = objects = 0
    near = {"temporal": [], "fresh": []}
    for f in carried:
        if not len(f["gt_boxes"]):
            continue
        d = xy_dist(f["query_centres"], f["gt_boxes"])  # [queries, objects]
        scores = np.asarray(f["query_scores"], float)
        for j in range(d.shape[1]):
            close = np.flatnonzero(d[:, j] <= MATCH_DIST)
            if not close.size:
                continue
            objects += 1
            best_temporal += int(close[np.argmax(scores[close])] < num_temp)
            near["temporal"] += scores[close[close < num_temp]].tolist()
            near["fresh"] += scores[close[close >= num_temp]].tolist()
    return {
        "carried_frame_share": len(carried) / max(len(data["frames"]), 1),
        "time_interval_median": float(np.median([f["time_interval"] for f in carried])) if carried else None,
        "objects_best_query_temporal_share": best_temporal / objects if objects else None,
        "temporal_query_score_near_object": float(np.median(near["temporal"])) if near["temporal"] else None,
        "fresh_query_score_near_object": float(np.median(near["fresh"])) if near["fresh"] else None,
    }


def tracking_validity(data, ratio, min_pairs):
    """Whether a run's matched detections follow their objects (the tracking validity rule of config.py).

    Over every ground-truth object matched (greedy, 2 m, tracked detections) in two consecutive frames of a
    scene: the distance its matched detection moved and the distance the object moved. Valid when there are at
    least ``min_pairs`` pairs and the detections' median is at least ``ratio`` x the objects' median.
    """
    track_thr = data.get("tracking_threshold", 0.2)
    det_moves, obj_moves = [], []
    scene, last = None, {}
    for f in data["frames"]:
        if f["scene"] != scene:
            scene, last = f["scene"], {}
        keep = np.asarray(f["det_cls_scores"], float) >= track_thr
        boxes = np.asarray(f["det_boxes"], float).reshape(-1, 7)[keep]
        scores = np.asarray(f["det_scores"], float)[keep]
        gts = np.asarray(f["gt_boxes"], float).reshape(-1, 7)
        now = {f["gt_ids"][gi]: (boxes[di, :2], gts[gi, :2])
               for di, gi in enumerate(greedy_match(boxes, scores, gts)) if gi >= 0}
        for gid, (det, obj) in now.items():
            if gid in last:
                det_moves.append(float(np.linalg.norm(det - last[gid][0])))
                obj_moves.append(float(np.linalg.norm(obj - last[gid][1])))
        last = now
    det_median = float(np.median(det_moves)) if det_moves else None
    obj_median = float(np.median(obj_moves)) if obj_moves else None
    valid = bool(len(det_moves) >= min_pairs and obj_median is not None and det_median >= ratio * obj_median)
    return {"tracking_valid": valid, "follow_pairs": len(det_moves), "detection_move_median": det_median,
            "object_move_median": obj_median,
            "follow_ratio": det_median / obj_median if det_moves and obj_median else None}


def same_boxes(a, b):
    """True when two inference records of one checkpoint decoded the same boxes, scores and labels every frame."""
    return len(a["frames"]) == len(b["frames"]) and all(
        fa["det_boxes"] == fb["det_boxes"] and fa["det_scores"] == fb["det_scores"] and fa["det_labels"] == fb["det_labels"]
        for fa, fb in zip(a["frames"], b["frames"]))


# --- the field's tracking metrics (issue 31): nuscenes-devkit's full set, and HOTA / IDF1 at one common point -------

def by_scene(frames):
    """The frames of each scene, in order (a scene is one sequence for every tracking metric)."""
    scenes = {}
    for f in frames:
        scenes.setdefault(f["scene"], []).append(f)
    return scenes


def content_key(data):
    """A hash of what the tracking metrics read from an inference record (identical records: one computation)."""
    keys = ("scene", "token", "timestamp", "det_boxes", "det_scores", "det_ids", "gt_boxes", "gt_ids")
    text = json.dumps([[f.get(k) for k in keys] for f in data["frames"]])
    return hashlib.sha1(text.encode()).hexdigest()


def memoised(fn):
    """``fn(data)`` computed once per record content in this process (the devkit's tracking evaluation takes
    seconds per record; QUICK's shared trainings and the tracker's repeated settings give identical records)."""
    cache = {}

    @functools.wraps(fn)
    def wrapper(data):
        key = content_key(data)
        if key not in cache:
            cache[key] = fn(data)
        return copy.deepcopy(cache[key])

    return wrapper


@memoised
def devkit_tracking(data):
    """nuscenes-devkit's own tracking metrics, as its TrackingEval aggregates one class: AMOTA and AMOTP over its
    recall thresholds (NaN values replaced by the metric's worst, all-NaN stays NaN), and every traditional metric
    (MOTA, MOTP, recall, IDS, FRAG, TID, LGD, ...) at its best-MOTA threshold (NaN when no threshold has a MOTA).

    Class-agnostic, 2 m centre distance, a track's score the mean of its boxes' (as ``nuscenes_tracking``)."""
    from nuscenes.eval.common.config import config_factory
    from nuscenes.eval.common.utils import center_distance
    from nuscenes.eval.tracking.algo import TrackingEvaluation
    from nuscenes.eval.tracking.constants import AVG_METRIC_MAP, MOT_METRIC_MAP
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
    out = {}
    for name, source in AVG_METRIC_MAP.items():  # amota <- motar, amotp <- motp
        values = np.array(md.get_metric(source), float)
        if np.all(np.isnan(values)):
            out[name] = float("nan")
        else:
            values[np.isnan(values)] = cfg.metric_worst[name]
            out[name] = float(np.mean(values))
    mota = np.array(md.get_metric("mota"), float)
    best = None if np.all(np.isnan(mota)) else int(np.nanargmax(mota))
    for name in MOT_METRIC_MAP.values():  # motmetrics' name -> the devkit's (mota, motp, ids, frag, tid, lgd, ...)
        if name:
            out[name] = float("nan") if best is None else float(md.get_metric(name)[best])
    out["best_mota_threshold"] = None if best is None else float(md.confidence[best])
    return out


@memoised
def field_tracking(data, dist=MATCH_DIST):
    """HOTA (DetA, AssA) with TrackEval, IDF1 / MOTA / IDS with py-motmetrics, at one operating point: every detection
    of the record (the decoder's output, score >= its threshold), each scene a sequence; and false-positive tracks.

    Similarity for HOTA: max(0, 1 - d / ``dist``), d the ground-plane centre distance; py-motmetrics matches within
    ``dist``. A false-positive track is a track ID none of whose detections is matched to an object by py-motmetrics
    (duplicates next to an object included)."""
    import motmetrics as mm
    from trackeval.metrics import HOTA

    hota = HOTA()
    accs, names, hota_seqs = [], [], {}
    fp_track_frames = frames_total = 0
    fp_lifetimes = []
    for scene, frames in by_scene(data["frames"]).items():
        acc = mm.MOTAccumulator(auto_id=True)
        gt_index, trk_index = {}, {}
        te = {"gt_ids": [], "tracker_ids": [], "similarity_scores": [], "num_gt_dets": 0, "num_tracker_dets": 0,
              "num_timesteps": len(frames), "seq": str(scene)}
        frames_of_track = {}
        for f in frames:
            frames_total += 1
            gts = np.asarray(f["gt_boxes"], float).reshape(-1, 7)
            dets = np.asarray(f["det_boxes"], float).reshape(-1, 7)
            d = xy_dist(gts, dets) if len(gts) and len(dets) else np.zeros((len(gts), len(dets)))
            gated = np.where(d <= dist, d, np.nan)
            gt_ids = [gt_index.setdefault(i, len(gt_index)) for i in f["gt_ids"]]  # contiguous per scene (TrackEval;
            det_ids = [trk_index.setdefault(i, len(trk_index)) for i in f["det_ids"]]  # motmetrics stores them as floats)
            acc.update(gt_ids, det_ids, gated)
            for i in det_ids:
                frames_of_track[i] = frames_of_track.get(i, 0) + 1
            te["gt_ids"].append(np.array(gt_ids, int))
            te["tracker_ids"].append(np.array(det_ids, int))
            te["similarity_scores"].append(np.clip(1.0 - d / dist, 0.0, 1.0))
            te["num_gt_dets"] += len(gts)
            te["num_tracker_dets"] += len(dets)
        te["num_gt_ids"], te["num_tracker_ids"] = len(gt_index), len(trk_index)
        hota_seqs[str(scene)] = hota.eval_sequence(te)
        events = acc.mot_events
        hits = events.loc[events["Type"].isin(["MATCH", "SWITCH"]), "HId"] if len(events) else []
        matched = {int(h) for h in hits}
        for track, count in frames_of_track.items():
            if track not in matched:
                fp_track_frames += count
                fp_lifetimes.append(count)
        accs.append(acc)
        names.append(str(scene))
    combined = hota.combine_sequences(hota_seqs)
    mh = mm.metrics.create()
    summary = mh.compute_many(accs, names=names, generate_overall=True,
                              metrics=["idf1", "idp", "idr", "mota", "motp", "num_switches", "num_false_positives",
                                       "num_misses", "num_objects", "num_matches", "num_fragmentations"])
    overall = summary.loc["OVERALL"]

    def num(value):
        return float(value) if value is not None else float("nan")

    return {
        "hota": float(np.mean(combined["HOTA"])), "deta": float(np.mean(combined["DetA"])),
        "assa": float(np.mean(combined["AssA"])), "hota_alpha_0.5": float(combined["HOTA"][9]),
        "idf1": num(overall["idf1"]), "idp": num(overall["idp"]), "idr": num(overall["idr"]),
        "mota_common": num(overall["mota"]), "ids_common": int(overall["num_switches"]),
        "frag_common": int(overall["num_fragmentations"]),
        "fp_common": int(overall["num_false_positives"]), "misses_common": int(overall["num_misses"]),
        "recall_common": float(overall["num_matches"] / overall["num_objects"]) if overall["num_objects"] else float("nan"),
        "fp_tracks_all": len(fp_lifetimes),
        "fp_tracks_all_per_frame": fp_track_frames / max(frames_total, 1),
        "fp_track_lifetime_frames": float(np.mean(fp_lifetimes)) if fp_lifetimes else None,
        "operating_point": f"score >= {data.get('score_threshold', 0.05)} (every decoder detection)",
    }


FIELD_KEYS = ("hota", "assa", "deta", "idf1", "ids_common", "mota_common", "fp_tracks_all_per_frame",
              "fp_track_lifetime_frames")
# the devkit's metrics at its best-MOTA point, under these names in a record (AMOTA, AMOTP: averaged, no point)
DEVKIT_NAMES = {"amota": "amota", "amotp": "amotp", "mota": "mota", "motp": "motp_best", "ids": "ids_best",
                "frag": "frag_best", "tid": "tid", "lgd": "lgd", "recall": "recall_best"}


def field_record(data):
    """Every tracking metric of one inference record: the devkit's (``devkit_tracking``; at its best-MOTA point,
    named by ``DEVKIT_NAMES``; all of it under ``devkit_tracking``) and the common point's (``field_tracking``)."""
    dev = devkit_tracking(data)
    out = field_tracking(data)
    out.update({name: dev.get(key, float("nan")) for key, name in DEVKIT_NAMES.items()})
    out["devkit_tracking"] = dev
    return out
