"""Training-time scalars that make background-score inflation visible.

TAO's ``training_step`` logs every key of the criterion's output dict to
TensorBoard and sums only keys containing ``loss``, so these keys never contain
it. They describe the last decoder layer's main queries; all are detached and
computed with dense tensor ops only, so no device-to-host synchronisation.
"""
import torch

from tao_sparse4d_fix.runtime import losses

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


def scalars(logits, target, *, batch_size, score_threshold, background):
    """Diagnostics for one layer: logits (N, C), labels (N,), N = batch × queries.

    ``background``: the kinds of background row the active loss supervises
    (``modes.background_rows``).
    """
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
        KEYS[3]: losses.supervised_rows(target, num_classes, background).mean(),
    }
