"""Training-time scalars that make background-score inflation visible.

TAO's ``training_step`` logs every key of the criterion's output dict to
TensorBoard and sums only keys containing ``loss``, so these keys never contain
it. They describe the last decoder layer's main queries; all are detached and
computed with dense tensor ops only, so no device-to-host synchronisation.
``TAO_SPARSE4D_FIX_DIAGNOSTICS=0`` turns them off.
"""
import os

from tao_sparse4d_fix import modes

ENV_VAR = "TAO_SPARSE4D_FIX_DIAGNOSTICS"
DEFAULT_SCORE_THRESHOLD = 0.05  # TAO's model.head.decoder.score_threshold default
PREFIX = "bgsup/"
KEYS = tuple(
    PREFIX + name
    for name in (
        "unmatched_score_mean",
        "unmatched_score_p95",
        "unmatched_above_threshold_per_sample",
        "cls_supervised_row_fraction",
    )
)


def enabled():
    return os.environ.get(ENV_VAR, "1").strip().lower() not in ("0", "false", "off")


def supervised_rows(target, num_classes, mode, stock_supervises_unmatched):
    """Rows that receive classification loss under ``mode``, as 0/1 floats."""
    import torch

    if mode == modes.CORRECTED:
        return torch.ones_like(target, dtype=torch.float32)
    highest = num_classes if (mode == modes.UNMATCHED_ONLY or stock_supervises_unmatched) else num_classes - 1
    return ((target >= 0) & (target <= highest)).float()


def scalars(logits, target, *, batch_size, score_threshold, mode, stock_supervises_unmatched=False):
    """Diagnostics for one layer: logits (N, C), labels (N,), N = batch × queries."""
    import torch

    logits = logits.detach()
    num_classes = logits.shape[1]
    scores = logits.float().sigmoid().amax(dim=1)
    unmatched = (target == num_classes).float()
    count = unmatched.sum()
    masked = torch.where(unmatched > 0, scores, torch.full_like(scores, float("nan")))
    return {
        KEYS[0]: (scores * unmatched).sum() / count.clamp_min(1),
        KEYS[1]: torch.nan_to_num(torch.nanquantile(masked, 0.95), nan=0.0),
        KEYS[2]: ((scores > score_threshold).float() * unmatched).sum() / batch_size,
        KEYS[3]: supervised_rows(target, num_classes, mode, stock_supervises_unmatched).mean(),
    }
