"""Whether a training run has left its constant-score floor: the rule, fixed before any result.

The probe (probe.py) records, for every classification-loss call, the loss TAO
got and the call's constant-score floor from the plugin's ``runtime.floor``
(the lowest loss a head that ignores its input could reach on those labels;
the formula lives there only). A run whose loss sits at its floor says nothing
about the fix either way. ``learned``: over the last ``TAIL`` of the steps, the
last decoder layer's main-query loss is below ``LEARNED_RATIO`` times its floor
(ratio of sums over those steps).

Standard library and numpy only: runs in the metrics venv and in tests.
"""
import json
from pathlib import Path

import numpy as np

LEARNED_RATIO = 0.9
TAIL = 0.2  # the last fifth of the steps


def read_probe(probe_dir):
    """The probe's per-step records of one training run, in step order."""
    steps = []
    for path in sorted(Path(probe_dir).glob("probe_*.jsonl")):
        steps += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted(steps, key=lambda step: step["step"])


def floor_series(steps, call_index):
    """(loss, floor) per step for one call position (e.g. the last layer's main queries)."""
    calls = [step["calls"][call_index] for step in steps if call_index < len(step["calls"])]
    return np.asarray([c["loss"] for c in calls]), np.asarray([c["floor"] for c in calls])


def validity(steps, layers):
    """Floor check of one run: the last layer's main and denoising loss against their floors.

    TAO calls the loss for the main queries of each of the ``layers`` decoder
    layers, then for the denoising rows of each layer.
    """
    result = {}
    for name, index in (("main", layers - 1), ("dn", 2 * layers - 1)):
        losses, floors = floor_series(steps, index)
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
