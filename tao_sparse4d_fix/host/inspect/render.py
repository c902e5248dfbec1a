"""The side-by-side table (one column per file) and the ``--json`` list."""
import json
import os

JSON_KEYS = ("file", "frames", "detections_total", "detections_per_frame_mean", "detections_per_frame_p5",
             "detections_per_frame_p50", "detections_per_frame_p95", "frames_at_cap", "frames_over_cap",
             "num_output", "num_output_from", "score_median", "score_spread_mean", "near_median_share",
             "tracking", "id_scope", "new_ids_per_frame", "new_id_share", "single_frame_id_share")
GT_KEYS = ("gt_per_frame_mean", "fp_per_frame", "precision_2m", "recall_2m", "common_recall",
           "score_threshold_at_common_recall", "fp_per_frame_at_common_recall")


def as_json(rows, with_gt):
    """One object per file: the metrics, ``verdict``, ``reasons`` and ``signals``; GT keys null without --gt."""
    out = []
    for m, verdict, reasons, states in rows:
        item = {key: getattr(m, key) for key in JSON_KEYS}
        item.update({key: getattr(m, key) if with_gt else None for key in GT_KEYS})
        item.update(verdict=verdict, reasons=reasons, signals=states)
        out.append(item)
    return json.dumps(out, indent=2)


def _num(value, digits=1):
    return "-" if value is None else f"{value:.{digits}f}"


def _share(value):
    return "-" if value is None else f"{100 * value:.0f}%"


def _names(paths):
    base = [os.path.basename(p) or p for p in paths]
    return base if len(set(base)) == len(base) else list(paths)


def table(rows, with_gt, common_note=None):
    """The text report: the table, then each file's verdict and reasons."""
    ms = [row[0] for row in rows]
    lines = [("", _names([m.file for m in ms])),
             ("frames", [str(m.frames) for m in ms]),
             ("detections per frame: mean", [_num(m.detections_per_frame_mean) for m in ms]),
             ("  p5 / p50 / p95", [f"{_num(m.detections_per_frame_p5)} / {_num(m.detections_per_frame_p50)} / "
                                   f"{_num(m.detections_per_frame_p95)}" for m in ms]),
             ("num_output (from)", [f"{m.num_output} ({m.num_output_from})" for m in ms]),
             ("frames at the cap", [f"{m.frames_at_cap} ({_share(m.frames_at_cap / m.frames)})" for m in ms]),
             ("score median", [_num(m.score_median, 3) for m in ms]),
             ("score spread in a frame (mean)", [_num(m.score_spread_mean, 3) for m in ms]),
             ("within 0.05 of frame median", [_share(m.near_median_share) for m in ms]),
             ("new track IDs per frame", [_num(m.new_ids_per_frame) + (f" ({_share(m.new_id_share)})"
                                          if m.new_id_share is not None else "") for m in ms]),
             ("IDs seen in one frame only", [_share(m.single_frame_id_share) for m in ms])]
    if with_gt:
        lines += [("GT boxes per frame", [_num(m.gt_per_frame_mean) for m in ms]),
                  ("false positives per frame (2 m)", [_num(m.fp_per_frame) for m in ms]),
                  ("precision / recall (2 m)", [f"{_share(m.precision_2m)} / {_share(m.recall_2m)}" for m in ms])]
        if len(ms) > 1:
            lines += [("common recall", [_share(m.common_recall) for m in ms]),
                      ("  at score threshold", [_num(m.score_threshold_at_common_recall, 3) for m in ms]),
                      ("  false positives per frame", [_num(m.fp_per_frame_at_common_recall) for m in ms])]
    lines.append(("verdict", [row[1] for row in rows]))
    label_width = max(len(label) for label, _ in lines)
    widths = [max(len(cells[i]) for _, cells in lines) for i in range(len(ms))]
    text = ["  ".join([label.ljust(label_width)] + [c.ljust(w) for c, w in zip(cells, widths)]).rstrip()
            for label, cells in lines]
    if common_note:
        text.append(f"note: {common_note}")
    for (m, verdict, reasons, _), name in zip(rows, _names([m.file for m in ms])):
        text.append("")
        text.append(f"{name}: {verdict}: {reasons[0]}")
        text.extend(f"  {reason}" for reason in reasons[1:])
    return "\n".join(text)
