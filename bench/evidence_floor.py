"""The constant-score floor of a classification loss, and whether a run has left it.

A head that has not yet learned query-dependent scores gives every row the same
score per class. The lowest loss such a head can reach on one call of TAO's
``FocalLoss`` is, per class ``c`` (sigmoid focal loss, score ``p``):

    min_p  n_pos(c) * alpha * (1 - p)**gamma * -log(p)
         + n_neg(c) * (1 - alpha) * p**gamma * -log(1 - p)

summed over classes, divided by the call's ``avg_factor`` and multiplied by its
loss weight. ``n_pos(c)`` counts rows labelled ``c``; ``n_neg(c)`` counts the other
rows the mode supervises: labels in ``[0, C)`` for ``original`` (stock TAO),
``[0, C]`` for ``unmatched_only``, every row for ``corrected``. The minimum over
``p`` is taken on a fine grid of logits (1-D, convex enough for a grid).

A run whose logged loss sits at this floor says nothing about the fix either
way: its classifier ignores its input. ``learned`` is decided once, before any
result is seen: over the last ``TAIL`` of the steps, the last decoder layer's
main-query loss must be below ``LEARNED_RATIO`` times its floor.

Pure numpy: runs in the metrics venv and in tests without torch or TAO.
"""
import json
from pathlib import Path

import numpy as np

LEARNED_RATIO = 0.9
TAIL = 0.2  # the last fifth of the steps
_LOGITS = np.linspace(-12.0, 12.0, 4801)
_P = 1.0 / (1.0 + np.exp(-_LOGITS))
_NEG_LOG_P = np.logaddexp(0.0, -_LOGITS)  # -log(p), stable
_NEG_LOG_1MP = np.logaddexp(0.0, _LOGITS)  # -log(1 - p), stable

SUPERVISED_LABELS = {  # which labels a mode hands to the loss, as (low, high) inclusive; None: all
    "original": (0, -1),  # high -1 means C - 1
    "unmatched_only": (0, 0),  # high 0 means C
    "corrected": None,
}


def read_probe(probe_dir):
    """The probe's per-step records of one training run (bench/evidence_probe.py), in step order."""
    steps = []
    for path in sorted(Path(probe_dir).glob("probe_*.jsonl")):
        steps += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted(steps, key=lambda step: step["step"])


def supervised_rows(labels, num_classes, mode):
    """Rows of a call the mode supervises, from its {label: count}."""
    bounds = SUPERVISED_LABELS[mode]
    if bounds is None:
        return sum(labels.values())
    high = num_classes - 1 if bounds[1] == -1 else num_classes
    return sum(n for label, n in labels.items() if 0 <= int(label) <= high)


def call_floor(call, mode):
    """The constant-score floor of one recorded loss call (bench/evidence_probe.py)."""
    classes, alpha, gamma = call["classes"], call["alpha"], call["gamma"]
    rows = supervised_rows(call["labels"], classes, mode)
    if rows == 0:
        return 0.0
    pos_curve = alpha * (1 - _P) ** gamma * _NEG_LOG_P
    neg_curve = (1 - alpha) * _P ** gamma * _NEG_LOG_1MP
    total = 0.0
    for c in range(classes):
        n_pos = call["labels"].get(str(c), 0)
        total += float(np.min(n_pos * pos_curve + (rows - n_pos) * neg_curve))
    divisor = call["avg_factor"] if call["avg_factor"] is not None else rows * classes
    return call["loss_weight"] * total / divisor


def floor_series(steps, mode, call_index):
    """(loss, floor) per step for one call position (e.g. the last layer's main queries)."""
    losses, floors = [], []
    for step in steps:
        if call_index < len(step["calls"]):
            call = step["calls"][call_index]
            losses.append(call["loss"])
            floors.append(call_floor(call, mode))
    return np.asarray(losses), np.asarray(floors)


def validity(steps, mode, layers):
    """Floor check of one arm's run: the last layer's main and denoising loss against their floors.

    ``steps``: the probe's records in step order; TAO calls the loss for the main queries of
    each of the ``layers`` decoder layers, then for the denoising rows of each layer.
    """
    result = {}
    for name, index in (("main", layers - 1), ("dn", 2 * layers - 1)):
        losses, floors = floor_series(steps, mode, index)
        if not len(losses):
            result[name] = None
            continue
        tail = max(1, int(round(len(losses) * TAIL)))
        result[name] = {
            "loss_first": float(losses[0]),
            "floor_first": float(floors[0]),
            "loss_tail": float(losses[-tail:].mean()),
            "floor_tail": float(floors[-tail:].mean()),
            "ratio_tail": float(losses[-tail:].sum() / max(floors[-tail:].sum(), 1e-12)),
            "tail_steps": tail,
        }
    main = result.get("main")
    result["learned"] = bool(main and main["ratio_tail"] < LEARNED_RATIO)
    return result
