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
from tao_sparse4d_fix.host.inspect import thresholds as t

AFFECTED, NOT_AFFECTED, UNCLEAR = "affected", "not_affected", "unclear"
FIRED, QUIET, NA = "fired", "quiet", "n/a"


def _pct(x):
    return f"{100 * x:.0f}%"


def signals(m):
    """``{name: (state, reason)}`` for one FileMetrics, in a fixed order."""
    out = {}
    cap = m.num_output
    if m.frames_over_cap:
        why = (f"{m.frames_over_cap} frame(s) hold more than num_output={cap} detections: "
               f"num_output ({m.num_output_from}) is not this model's cap")
        out["at_cap"] = (NA, f"at_cap: n/a ({why})")
        out["near_cap"] = (NA, "near_cap: n/a (see at_cap)")
    else:
        share = m.frames_at_cap / m.frames
        state = FIRED if share >= t.AT_CAP_SHARE else QUIET
        out["at_cap"] = (state, f"at_cap: {state} ({m.frames_at_cap} of {m.frames} frames = {_pct(share)} hold "
                                f"num_output={cap} detections; fires at >= {_pct(t.AT_CAP_SHARE)})")
        fraction = m.detections_per_frame_mean / cap
        if state == FIRED:
            out["near_cap"] = (NA, "near_cap: n/a (at_cap fired)")
        else:
            near = FIRED if fraction >= t.NEAR_CAP_FRACTION else QUIET
            out["near_cap"] = (near, f"near_cap: {near} ({m.detections_per_frame_mean:.1f} detections per frame = "
                                     f"{_pct(fraction)} of num_output={cap}; fires at >= {_pct(t.NEAR_CAP_FRACTION)})")
    if m.score_spread_mean is None:
        out["flat_scores"] = (NA, "flat_scores: n/a (no frame with 2 or more detections)")
    else:
        flat = m.score_spread_mean <= t.FLAT_SPREAD_MAX and m.near_median_share >= t.FLAT_NEAR_MEDIAN_SHARE
        state = FIRED if flat else QUIET
        out["flat_scores"] = (state, f"flat_scores: {state} (mean within-frame spread {m.score_spread_mean:.3f}, "
                                     f"fires at <= {t.FLAT_SPREAD_MAX}; {_pct(m.near_median_share)} of detections "
                                     f"within {t.NEAR_MEDIAN_BAND} of their frame's median, "
                                     f"fires at >= {_pct(t.FLAT_NEAR_MEDIAN_SHARE)}; both needed)")
    if m.gt_per_frame_mean is None:
        out["many_per_gt"] = (NA, "many_per_gt: n/a (no --gt)")
    elif m.gt_per_frame_mean == 0:
        state = FIRED if m.detections_per_frame_mean > 0 else QUIET
        out["many_per_gt"] = (state, f"many_per_gt: {state} ({m.detections_per_frame_mean:.1f} detections per frame, "
                                     "the GT holds no box)")
    else:
        ratio = m.detections_per_frame_mean / m.gt_per_frame_mean
        state = FIRED if ratio >= t.DETS_PER_GT_MAX else QUIET
        out["many_per_gt"] = (state, f"many_per_gt: {state} ({m.detections_per_frame_mean:.1f} detections per frame "
                                     f"for {m.gt_per_frame_mean:.1f} GT boxes = {ratio:.1f}x; "
                                     f"fires at >= {t.DETS_PER_GT_MAX:g}x)")
    if not m.tracking:
        out["id_churn"] = (NA, "id_churn: n/a (no tracking ids)")
    elif m.new_id_share is None:
        out["id_churn"] = (NA, "id_churn: n/a (no detections after the first frame of a scene)")
    else:
        state = FIRED if m.new_id_share >= t.NEW_ID_SHARE_MAX else QUIET
        out["id_churn"] = (state, f"id_churn: {state} ({m.new_ids_per_frame:.1f} new track IDs per frame = "
                                  f"{_pct(m.new_id_share)} of detections; fires at >= {_pct(t.NEW_ID_SHARE_MAX)}; "
                                  "reported only, it does not vote)")
    return out


def decide(m):
    """``(verdict, reasons, {signal: state})`` for one FileMetrics."""
    found = signals(m)
    states = {name: state for name, (state, _) in found.items()}
    fired = [name for name, state in states.items() if state == FIRED and name not in t.REPORTED_ONLY]
    details = [reason for _, reason in found.values()]
    strong = [name for name in fired if name in t.STRONG_SIGNALS]
    weak = [name for name in fired if name not in t.STRONG_SIGNALS]
    if m.frames < t.MIN_FRAMES:
        head = (UNCLEAR, f"only {m.frames} frames (fewer than {t.MIN_FRAMES}): too few to judge"
                         + (f"; fired: {', '.join(fired)}" if fired else ""))
    elif m.detections_total == 0:
        head = (UNCLEAR, "no detection in any frame: nothing to judge")
    elif not fired:
        head = (NOT_AFFECTED, "no signal fired")
    elif _plausible_for_gt(m):
        head = (UNCLEAR, f"signals disagree: {', '.join(fired)} fired, but the GT holds about as many objects "
                         f"as detected ({m.detections_per_frame_mean:.1f} detections per frame for "
                         f"{m.gt_per_frame_mean:.1f} GT boxes, at most {t.DETS_PER_GT_PLAUSIBLE:g}x)")
    elif strong or len(weak) >= 2:
        head = (AFFECTED, f"{len(fired)} signal(s) fired: {', '.join(fired)}")
    else:
        head = (UNCLEAR, f"only the weak signal {weak[0]} fired")
    return head[0], [head[1]] + details + list(m.notes), states


def _plausible_for_gt(m):
    if not m.gt_per_frame_mean:
        return False
    return m.detections_per_frame_mean / m.gt_per_frame_mean <= t.DETS_PER_GT_PLAUSIBLE
