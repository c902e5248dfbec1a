"""Sigmoid focal loss with explicit background supervision.

Same formula, alpha, gamma, weight and ``avg_factor`` handling as TAO's
``FocalLoss``; what differs is which rows count. mmcv's sigmoid focal-loss
kernel (what upstream Sparse4D trains with) treats a row as negative for every
class it does not equal, so labels outside ``[0, C)`` are all-negative rows.

Every tensor operation here is dense: no boolean-mask indexing, ``.any()`` or
``.item()``, so a CUDA device is never synchronised with the host.
"""
import torch
import torch.nn.functional as F

from tao_sparse4d_fix import modes


def sigmoid_focal_loss(
    pred,
    target,
    *,
    mode,
    alpha,
    gamma,
    weight=None,
    avg_factor=None,
    reduction="mean",
):
    """Focal loss over ``pred`` (N, C) logits and ``target`` (N,) labels.

    ``mode`` is ``corrected`` (every row supervised) or ``unmatched_only``
    (rows labelled ``C`` are background, negative labels are ignored).
    """
    num_classes = pred.size(1)
    classes = torch.arange(num_classes, device=pred.device)
    one_hot = (target.unsqueeze(1) == classes).to(pred.dtype)

    log_pt = F.binary_cross_entropy_with_logits(pred, one_hot, reduction="none")
    p = torch.sigmoid(pred)
    pt = p * one_hot + (1 - p) * (1 - one_hot)
    focal_weight = (alpha * one_hot + (1 - alpha) * (1 - one_hot)) * ((1 - pt) ** gamma)
    loss = focal_weight * log_pt

    supervised_elements = None
    if mode == modes.UNMATCHED_ONLY:
        row_kept = ((target >= 0) & (target <= num_classes)).to(pred.dtype)
        loss = loss * row_kept.unsqueeze(1)
        supervised_elements = (row_kept.sum() * num_classes).clamp_min(1)
    elif mode != modes.CORRECTED:
        raise ValueError(f"sigmoid_focal_loss has no mode {mode!r}")

    if weight is not None:
        weight = weight.float()
        loss = loss * (weight.unsqueeze(1) if weight.dim() == 1 else weight)

    if reduction == "mean":
        if avg_factor is not None:
            return loss.sum() / avg_factor
        if supervised_elements is not None:
            return loss.sum() / supervised_elements
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
