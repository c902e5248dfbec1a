"""Training-time scalars that make background-score inflation visible.

TAO's ``training_step`` logs every key of the criterion's output dict to
TensorBoard and sums every key containing ``loss`` into the total loss, so
these keys never contain that word (the loss-over-floor ratio is therefore
``cls_over_floor``). They describe the last decoder layer's main queries; all
are detached and computed with dense tensor ops only, so no device-to-host
synchronisation.
"""
from dataclasses import dataclass
from typing import Any

import torch

from tao_sparse4d_fix.runtime import floor, losses

PREFIX = "bgsup/"
KEYS = tuple(
    PREFIX + name
    for name in (
        "unmatched_score_mean",
        "unmatched_score_p95",
        "unmatched_above_threshold_per_sample",
        "cls_supervised_row_fraction",
        "cls_over_floor",
    )
)


@dataclass(frozen=True)
class LossCall:
    """One call of the criterion's ``FocalLoss``: what it got and what it returned."""

    logits: torch.Tensor  # (N, C), N = batch x queries
    target: torch.Tensor  # (N,) labels
    avg_factor: Any  # as TAO passed it: a number, a tensor or None
    value: torch.Tensor  # the loss it returned


def scalars(call, *, loss_module, batch_size, score_threshold, background):
    """Diagnostics for the last layer's main-query call of ``loss_module`` (TAO's FocalLoss).

    ``background``: the kinds of background row the active loss supervises
    (``modes.background_rows``).
    """
    logits, target = call.logits.detach(), call.target
    num_classes = logits.shape[1]
    scores = logits.float().sigmoid().amax(dim=1)
    unmatched = (target == num_classes).float()
    count = unmatched.sum()
    masked = torch.where(unmatched > 0, scores, torch.full_like(scores, float("nan")))
    call_floor = floor.constant_score_floor(
        target, num_classes, background=background, alpha=loss_module.alpha, gamma=loss_module.gamma,
        avg_factor=call.avg_factor, loss_weight=loss_module.loss_weight)
    return {
        KEYS[0]: (scores * unmatched).sum() / count.clamp_min(1),
        KEYS[1]: torch.nan_to_num(torch.nanquantile(masked, 0.95), nan=0.0),
        KEYS[2]: ((scores > score_threshold).float() * unmatched).sum() / batch_size,
        KEYS[3]: losses.supervised_rows(target, num_classes, background).mean(),
        KEYS[4]: floor.loss_over_floor(call.value, call_floor),
    }
