"""affected / not_affected / unclear, from the signals of unsupervised background.

Each signal is "fired", "quiet" or "n/a" (not measurable in this file), with
one reason naming its numbers and its threshold (``thresholds``):

* at_cap (strong): frames holding num_output detections;
* near_cap (strong; only when at_cap is quiet): mean detections per frame close to num_output;
* flat_scores (weak): small within-frame spread and most detections near their frame's median;
* many_per_gt (strong; with --gt): far more detections per frame than GT boxes;
* id_churn (reported only; with tracking ids): many new track IDs per frame.

Which signal is strong, weak or reported only was calibrated on this project's
runs (``thresholds``).

The verdict, never stronger than the numbers:

* fewer than MIN_FRAMES frames -> unclear;
* a frame holds more than num_output detections -> the cap is wrong: the two
  cap signals are n/a;
* no detection in any frame -> unclear (nothing to judge);
* nothing fired -> not_affected;
* something fired but, with --gt, there are at most DETS_PER_GT_PLAUSIBLE
  detections per GT box (the scenes hold about that many objects) -> unclear
  (signals disagree);
* a strong signal fired, or two weak ones -> affected;
* one weak signal alone -> unclear.
"""
from tao_sparse4d_fix.host.inspect import thresholds

AFFECTED, NOT_AFFECTED, UNCLEAR = "affected", "not_affected", "unclear"
FIRED, QUIET, NA = "fired", "quiet", "n/a"


def _pct(x):
    return f"{100 * x:.0f}%"


def signals(metrics):
    """``{name: (state, reason)}`` for one FileMetrics, in a fixed order."""
    out = {}
    cap = metrics.num_output
    if metrics.frames_over_cap:
        why = (f"{metrics.frames_over_cap} frame(s) hold more than num_output={cap} detections: "
               f"num_output ({metrics.num_output_from}) is not this model's cap")
        out["at_cap"] = (NA, f"at_cap: n/a ({why})")
        out["near_cap"] = (NA, "near_cap: n/a (see at_cap)")
    else:
        share = metrics.frames_at_cap / metrics.frames
        state = FIRED if share >= thresholds.AT_CAP_SHARE else QUIET
        out["at_cap"] = (state, f"at_cap: {state} ({metrics.frames_at_cap} of {metrics.frames} frames = "
                                f"{_pct(share)} hold num_output={cap} detections; "
                                f"fires at >= {_pct(thresholds.AT_CAP_SHARE)})")
        fraction = metrics.detections_per_frame_mean / cap
        if state == FIRED:
            out["near_cap"] = (NA, "near_cap: n/a (at_cap fired)")
        else:
            near = FIRED if fraction >= thresholds.NEAR_CAP_FRACTION else QUIET
            out["near_cap"] = (near, f"near_cap: {near} ({metrics.detections_per_frame_mean:.1f} detections per "
                                     f"frame = {_pct(fraction)} of num_output={cap}; "
                                     f"fires at >= {_pct(thresholds.NEAR_CAP_FRACTION)})")
    if metrics.score_spread_mean is None:
        out["flat_scores"] = (NA, "flat_scores: n/a (no frame with 2 or more detections)")
    else:
        flat = (metrics.score_spread_mean <= thresholds.FLAT_SPREAD_MAX
                and metrics.near_median_share >= thresholds.FLAT_NEAR_MEDIAN_SHARE)
        state = FIRED if flat else QUIET
        out["flat_scores"] = (state, f"flat_scores: {state} (mean within-frame spread "
                                     f"{metrics.score_spread_mean:.3f}, fires at <= {thresholds.FLAT_SPREAD_MAX}; "
                                     f"{_pct(metrics.near_median_share)} of detections "
                                     f"within {thresholds.NEAR_MEDIAN_BAND} of their frame's median, "
                                     f"fires at >= {_pct(thresholds.FLAT_NEAR_MEDIAN_SHARE)}; both needed)")
    if metrics.gt_per_frame_mean is None:
        out["many_per_gt"] = (NA, "many_per_gt: n/a (no --gt)")
    elif metrics.gt_per_frame_mean == 0:
        state = FIRED if metrics.detections_per_frame_mean > 0 else QUIET
        out["many_per_gt"] = (state, f"many_per_gt: {state} ({metrics.detections_per_frame_mean:.1f} detections "
                                     "per frame, the GT holds no box)")
    else:
        ratio = metrics.detections_per_frame_mean / metrics.gt_per_frame_mean
        state = FIRED if ratio >= thresholds.DETS_PER_GT_MAX else QUIET
        out["many_per_gt"] = (state, f"many_per_gt: {state} ({metrics.detections_per_frame_mean:.1f} detections "
                                     f"per frame for {metrics.gt_per_frame_mean:.1f} GT boxes = {ratio:.1f}x; "
                                     f"fires at >= {thresholds.DETS_PER_GT_MAX:g}x)")
    if not metrics.tracking:
        out["id_churn"] = (NA, "id_churn: n/a (no tracking ids)")
    elif metrics.new_id_share is None:
        out["id_churn"] = (NA, "id_churn: n/a (no detections after the first frame of a scene)")
    else:
        state = FIRED if metrics.new_id_share >= thresholds.NEW_ID_SHARE_MAX else QUIET
        out["id_churn"] = (state, f"id_churn: {state} ({metrics.new_ids_per_frame:.1f} new track IDs per frame = "
                                  f"{_pct(metrics.new_id_share)} of detections; "
                                  f"fires at >= {_pct(thresholds.NEW_ID_SHARE_MAX)}; "
                                  "reported only, it does not vote)")
    return out


def decide(metrics):
    """``(verdict, reasons, {signal: state})`` for one FileMetrics."""
    found = signals(metrics)
    states = {name: state for name, (state, _) in found.items()}
    fired = [name for name, state in states.items() if state == FIRED and name not in thresholds.REPORTED_ONLY]
    details = [reason for _, reason in found.values()]
    strong = [name for name in fired if name in thresholds.STRONG_SIGNALS]
    weak = [name for name in fired if name not in thresholds.STRONG_SIGNALS]
    if metrics.frames < thresholds.MIN_FRAMES:
        head = (UNCLEAR, f"only {metrics.frames} frames (fewer than {thresholds.MIN_FRAMES}): too few to judge"
                         + (f"; fired: {', '.join(fired)}" if fired else ""))
    elif metrics.detections_total == 0:
        head = (UNCLEAR, "no detection in any frame: nothing to judge")
    elif not fired:
        head = (NOT_AFFECTED, "no signal fired")
    elif _plausible_for_gt(metrics):
        head = (UNCLEAR, f"signals disagree: {', '.join(fired)} fired, but the GT holds about as many objects "
                         f"as detected ({metrics.detections_per_frame_mean:.1f} detections per frame for "
                         f"{metrics.gt_per_frame_mean:.1f} GT boxes, at most {thresholds.DETS_PER_GT_PLAUSIBLE:g}x)")
    elif strong or len(weak) >= 2:
        head = (AFFECTED, f"{len(fired)} signal(s) fired: {', '.join(fired)}")
    else:
        head = (UNCLEAR, f"only the weak signal {weak[0]} fired")
    return head[0], [head[1]] + details + list(metrics.notes), states


def _plausible_for_gt(metrics):
    if not metrics.gt_per_frame_mean:
        return False
    return metrics.detections_per_frame_mean / metrics.gt_per_frame_mean <= thresholds.DETS_PER_GT_PLAUSIBLE
