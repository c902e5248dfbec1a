"""The constant-score floor of one classification-loss call: the one home of its formula.

A head that has not learned query-dependent scores gives every row the same
score per class. The lowest loss such a head can reach on one call of TAO's
``FocalLoss`` is, per class ``c`` (sigmoid focal loss, constant score ``p``):

    min_p  n_pos(c) * alpha * (1 - p)**gamma * -log(p)
         + n_neg(c) * (1 - alpha) * p**gamma * -log(1 - p)

summed over classes, divided by the call's ``avg_factor`` (the supervised
elements when there is none) and multiplied by its loss weight. ``n_pos(c)``
counts the rows labelled ``c``; ``n_neg(c)`` the other rows the active mode
supervises (``modes.background_rows``). The minimum over ``p`` is taken on a
fixed grid of logits: each class's curve is convex in the logit, so the grid
minimum is within a few parts per million of the true one.

A training run whose loss sits at this floor says nothing about its classifier:
it ignores its input. The TensorBoard scalar ``bgsup/cls_over_floor`` and
the evidence benchmark's validity check both take the floor from here.
Dense tensor ops only: no device-to-host synchronisation.
"""
import functools

import torch

from tao_sparse4d_fix.runtime import losses

GRID_LOGITS = (-12.0, 12.0, 4801)  # start, end, points: a step of 0.005 in the logit


@functools.lru_cache(maxsize=16)
def _curves(alpha, gamma, device):
    """Per-row loss at every grid score, for a positive and for a negative row: two (G,) tensors."""
    logits = torch.linspace(*GRID_LOGITS, dtype=torch.float64, device=device)
    p = torch.sigmoid(logits)
    neg_log_p = torch.nn.functional.softplus(-logits)  # -log(p), stable
    neg_log_1mp = torch.nn.functional.softplus(logits)  # -log(1 - p), stable
    return alpha * (1 - p) ** gamma * neg_log_p, (1 - alpha) * p ** gamma * neg_log_1mp


def constant_score_floor(target, num_classes, *, background, alpha, gamma, avg_factor=None, loss_weight=1.0):
    """The floor of one loss call on labels ``target`` (N,): a 0-dim float64 tensor on its device.

    ``background``: the kinds of background row the active loss supervises
    (``modes.background_rows``). ``avg_factor`` as TAO passes it (a number, a
    tensor or None). 0 when the call supervises no row.
    """
    target = target.detach().reshape(-1)
    supervised = losses.supervised_rows(target, num_classes, background).to(torch.float64)
    classes = torch.arange(num_classes, device=target.device)
    n_pos = (target.unsqueeze(1) == classes).to(torch.float64).mul_(supervised.unsqueeze(1)).sum(0)  # (C,)
    n_neg = supervised.sum() - n_pos
    pos_curve, neg_curve = _curves(float(alpha), float(gamma), target.device)
    total = (n_pos.unsqueeze(1) * pos_curve + n_neg.unsqueeze(1) * neg_curve).amin(dim=1).sum()
    if avg_factor is None:
        divisor = (supervised.sum() * num_classes).clamp_min(1)
    elif isinstance(avg_factor, torch.Tensor):
        divisor = avg_factor.detach().to(torch.float64)
    else:
        divisor = float(avg_factor)
    return float(loss_weight) * total / divisor


def loss_over_floor(loss, floor):
    """``loss / floor`` as a float32 0-dim tensor; NaN when the call supervises nothing (floor 0)."""
    floor = floor.to(torch.float32)
    ratio = loss.detach().to(torch.float32) / floor.clamp_min(torch.finfo(torch.float32).tiny)
    return torch.where(floor > 0, ratio, torch.full_like(ratio, float("nan")))
