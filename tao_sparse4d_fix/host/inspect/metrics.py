"""The numbers per results file, and the several-files comparison at a common recall.

Definitions (every one is checked by hand in tests/inspect):

* percentiles: linear interpolation between order statistics (numpy's default);
* detections per frame: over every frame, those with no detection included;
* frames at the cap: frames holding ``num_output`` detections (or more);
* score median: over all detections of the file pooled;
* spread and near-median share: over frames with at least 2 detections (a
  single detection has no spread); spread = max - min of detection_score,
  averaged over those frames; near-median share = the share of their
  detections within NEAR_MEDIAN_BAND of their own frame's median;
* new IDs per frame: a scene's frames in the file's order (TAO writes them in
  (scene, timestamp) order); an ID is new in a frame when no earlier frame of
  the same scene carried it; the first frame of each scene is left out (all
  its IDs are new by definition). Scenes are told apart by the GT's
  ``scene_name`` with --gt; without it the file is one sequence;
* IDs seen in exactly one frame: share of the distinct (scene, ID) pairs;
* with --gt: per frame, detections by descending score each take the nearest
  unmatched GT centre in the ground plane, a match when closer than
  MATCH_DISTANCE_M (nuScenes' greedy center_distance matching, class-agnostic);
  false positives = unmatched detections.
"""
import math
from dataclasses import dataclass, field

from tao_sparse4d_fix.host.inspect.thresholds import MATCH_DISTANCE_M, NEAR_MEDIAN_BAND

EPSILON = 1e-9  # float slack for "within the band"


def percentile(values, q):
    """The q-th percentile (0-100), linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values):
    return percentile(values, 50)


def mean(values):
    return sum(values) / len(values) if values else None


@dataclass
class FileMetrics:
    file: str
    frames: int
    num_output: int
    num_output_from: str
    detections_total: int = 0
    detections_per_frame_mean: float = None
    detections_per_frame_p5: float = None
    detections_per_frame_p50: float = None
    detections_per_frame_p95: float = None
    frames_at_cap: int = 0
    frames_over_cap: int = 0
    score_median: float = None
    score_spread_mean: float = None
    near_median_share: float = None
    tracking: bool = False
    id_scope: str = None  # "scene" (from --gt) or "file"
    new_ids_per_frame: float = None
    new_id_share: float = None
    single_frame_id_share: float = None
    gt_per_frame_mean: float = None
    fp_per_frame: float = None
    precision_2m: float = None
    recall_2m: float = None
    common_recall: float = None
    score_threshold_at_common_recall: float = None
    fp_per_frame_at_common_recall: float = None
    notes: list = field(default_factory=list)
    # kept for the comparison and the plot, not printed
    counts: list = field(default_factory=list, repr=False)
    scores: list = field(default_factory=list, repr=False)
    scored: list = field(default_factory=list, repr=False)  # [(score, is_tp)] with --gt
    gt_total: int = 0


def measure(results, num_output, num_output_from, gt=None):
    """FileMetrics of one ResultsFile (and its GroundTruth, already checked to cover the same frames)."""
    m = FileMetrics(results.path, len(results.frames), num_output, num_output_from)
    m.counts = [len(boxes) for _, boxes in results.frames]
    m.scores = [box.score for _, boxes in results.frames for box in boxes]
    m.detections_total = len(m.scores)
    m.detections_per_frame_mean = mean(m.counts)
    m.detections_per_frame_p5 = percentile(m.counts, 5)
    m.detections_per_frame_p50 = percentile(m.counts, 50)
    m.detections_per_frame_p95 = percentile(m.counts, 95)
    m.frames_at_cap = sum(1 for n in m.counts if n >= num_output)
    m.frames_over_cap = sum(1 for n in m.counts if n > num_output)
    m.score_median = median(m.scores)
    _spread(m, results)
    _tracking(m, results, gt)
    if gt is not None:
        _against_gt(m, results, gt)
    return m


def _spread(m, results):
    spreads, near, counted = [], 0, 0
    for _, boxes in results.frames:
        if len(boxes) < 2:
            continue
        scores = [box.score for box in boxes]
        spreads.append(max(scores) - min(scores))
        middle = median(scores)
        near += sum(1 for s in scores if abs(s - middle) <= NEAR_MEDIAN_BAND + EPSILON)
        counted += len(scores)
    m.score_spread_mean = mean(spreads)
    m.near_median_share = near / counted if counted else None


def _tracking(m, results, gt):
    m.tracking = results.has_tracking
    if not results.has_tracking:
        if results.boxes_with_id:
            m.notes.append(f"tracking_id on only {results.boxes_with_id} of {results.boxes} boxes: "
                           "no ID metrics")
        return
    by_scene = gt is not None and gt.has_scenes
    m.id_scope = "scene" if by_scene else "file"
    seen, frames_of = {}, {}  # scene -> IDs seen in its earlier frames; (scene, ID) -> frames
    new_total, dets_total, frames_counted = 0, 0, 0
    for token, boxes in results.frames:
        scene = gt.frames[token].scene if by_scene else None
        first = scene not in seen
        earlier = seen.setdefault(scene, set())
        ids = {box.track_id for box in boxes}
        for track_id in ids:
            frames_of[(scene, track_id)] = frames_of.get((scene, track_id), 0) + 1
        if not first:
            new_total += len(ids - earlier)
            dets_total += len(boxes)
            frames_counted += 1
        earlier |= ids
    if frames_counted:
        m.new_ids_per_frame = new_total / frames_counted
        m.new_id_share = new_total / dets_total if dets_total else None
    if frames_of:
        m.single_frame_id_share = sum(1 for n in frames_of.values() if n == 1) / len(frames_of)


def match_frame(detections, centres, max_distance=MATCH_DISTANCE_M):
    """``[(score, is_tp)]`` for ``detections`` ``[(score, (x, y))]`` against GT ``centres``, greedy by score.

    Each detection, by descending score, takes the nearest unmatched GT centre
    when it is closer than ``max_distance``. Only GT centres in the grid cells
    around a detection (cells of ``max_distance``) can be that close, so only
    those are measured: the same result as measuring all of them.
    """
    grid = {}
    for j, (gx, gy) in enumerate(centres):
        grid.setdefault((math.floor(gx / max_distance), math.floor(gy / max_distance)), []).append(j)
    taken = [False] * len(centres)
    out = []
    for score, (x, y) in sorted(detections, key=lambda d: -d[0]):  # stable: ties keep the file's order
        cx, cy = math.floor(x / max_distance), math.floor(y / max_distance)
        near = sorted(j for dx in (-1, 0, 1) for dy in (-1, 0, 1) for j in grid.get((cx + dx, cy + dy), ()))
        best, best_distance = None, None
        for j in near:
            if taken[j]:
                continue
            distance = math.hypot(x - centres[j][0], y - centres[j][1])
            if best_distance is None or distance < best_distance:
                best, best_distance = j, distance
        is_tp = best is not None and best_distance < max_distance
        if is_tp:
            taken[best] = True
        out.append((score, is_tp))
    return out


def _against_gt(m, results, gt):
    for token, boxes in results.frames:
        centres = gt.frames[token].centres
        m.gt_total += len(centres)
        m.scored.extend(match_frame([(box.score, box.xy) for box in boxes], centres))
    tp = sum(1 for _, is_tp in m.scored if is_tp)
    m.gt_per_frame_mean = m.gt_total / m.frames
    m.fp_per_frame = (len(m.scored) - tp) / m.frames
    m.precision_2m = tp / len(m.scored) if m.scored else None
    m.recall_2m = tp / m.gt_total if m.gt_total else None


def _curve(scored):
    """``[(threshold, tp, fp)]`` for every distinct score, descending: what a threshold at it keeps."""
    points, tp, fp = [], 0, 0
    ordered = sorted(scored, key=lambda d: -d[0])
    for i, (score, is_tp) in enumerate(ordered):
        tp += is_tp
        fp += not is_tp
        if i + 1 == len(ordered) or ordered[i + 1][0] != score:
            points.append((score, tp, fp))
    return points


def compare_at_common_recall(all_metrics):
    """Fill the common-recall fields of several files measured against the same GT.

    The common recall is the lowest best recall among the files (each file's
    recall with all its detections); each file is then read at the highest
    score threshold at which it still reaches that recall. Because matching
    is greedy by descending score, the detections above a threshold match
    exactly as they do in the full set. Returns a note, or None.
    """
    if len(all_metrics) < 2 or any(m.recall_2m is None for m in all_metrics):
        return None
    common_tp = min(sum(1 for _, is_tp in m.scored if is_tp) for m in all_metrics)
    if common_tp == 0:
        return "no common recall: a file matches no GT box"
    for m in all_metrics:
        for threshold, tp, fp in _curve(m.scored):
            if tp >= common_tp:
                m.common_recall = common_tp / m.gt_total
                m.score_threshold_at_common_recall = threshold
                m.fp_per_frame_at_common_recall = fp / m.frames
                break
    return None
