"""Sigmoid focal loss with explicit background supervision.

Same formula, alpha, gamma, weight and ``avg_factor`` handling as TAO's
``FocalLoss``; what differs is which rows count. mmcv's sigmoid focal-loss
kernel (what upstream Sparse4D trains with) treats a row as negative for every
class it does not equal, so labels outside ``[0, C)`` are all-negative rows.

Every tensor operation here is dense: no boolean-mask indexing, ``.any()`` or
``.item()``, so a CUDA device is never synchronised with the host.

How it is computed
------------------
The loss and its gradient come from one autograd ``Function``
(``_SigmoidFocal``): about a dozen elementwise passes, in place where a value is
dead, and a backward that is one multiply, instead of autograd tracing two dozen
small ops and replaying their backward nodes. With ``x`` the logit and
``p = sigmoid(x)``, the focal loss of Lin et al. for one (row, class) element is

    loss = a_t * (1 - p_t)**gamma * -log(p_t)

with ``p_t = p, a_t = alpha`` for a positive (the row's label is this class)
and ``p_t = 1 - p, a_t = 1 - alpha`` for a negative. Writing ``z = -x`` for a
positive and ``z = x`` for a negative (the logit of the *wrong* answer) makes
both cases one expression:

    q = sigmoid(z) = 1 - p_t,   -log(p_t) = softplus(z)
    loss = a_t * q**gamma * softplus(z)

and, since ``dq/dz = q (1 - q)`` and ``d softplus(z)/dz = q``,

    dloss/dz = a_t * q**gamma * (gamma * (1 - q) * softplus(z) + q)
    dloss/dx = dloss/dz * dz/dx,   dz/dx = -1 for a positive, +1 for a negative.

``softplus(z)`` is taken from ``q`` with one ``log1p``:
``softplus(z) = relu(z) - log1p(-min(q, 1 - q))`` (``-log(1 - q)`` for
``z <= 0``, ``z - log(q)`` above). The ``log1p`` argument is at most 1/2 and
never the result of a cancellation, so this is as accurate as
``binary_cross_entropy_with_logits`` for every logit, with no overflow.

``dz/dx`` and ``a_t`` depend only on the row's label, so they are looked up
per row from a small table (``_label_table``) instead of being built from
comparisons. A row kind a mode does not supervise (``modes.BACKGROUND_ROWS``)
has ``a_t = 0`` in the table, so every mode costs the same.

Under autocast, on any device, the loss is computed in float32 and returned in
float32, as the stock code's ``binary_cross_entropy_with_logits`` is.
"""
import functools

import torch

from tao_sparse4d_fix.runtime import modes

LOW_PRECISION = (torch.float16, torch.bfloat16)


def _table_row(target, num_classes):
    """Row of ``_label_table`` per label: 0 below 0, 1..C for the classes, C + 1 for C, C + 2 above."""
    return (target + 1).clamp_(0, num_classes + 2)


def _row_kinds(num_classes):
    """The background kind of each table row (None for the class rows)."""
    return [modes.NEGATIVE] + [None] * num_classes + [modes.UNMATCHED, modes.NEGATIVE]


@functools.lru_cache(maxsize=32)
def _label_table(num_classes, alpha, background, dtype, device):
    """``dz/dx``, ``a_t`` and their product for every (label, class): a (3, C + 3, C) tensor.

    Rows as ``_table_row``. Only a class row has a positive element
    (``dz/dx = -1``, ``a_t = alpha``); every other element is a negative
    (``+1``, ``1 - alpha``). Rows of a background kind not in ``background``
    get ``a_t = 0``: no loss, no gradient.
    """
    rows = num_classes + 3
    sign = torch.ones(rows, num_classes, dtype=dtype, device=device)
    sign[1 : num_classes + 1].fill_diagonal_(-1)
    a_t = torch.full((rows, num_classes), 1 - alpha, dtype=dtype, device=device)
    a_t[1 : num_classes + 1].fill_diagonal_(alpha)
    for row, kind in enumerate(_row_kinds(num_classes)):
        if kind is not None and kind not in background:
            a_t[row] = 0
    return torch.stack([sign, a_t, a_t * sign])


class _SigmoidFocal(torch.autograd.Function):
    """Focal loss of ``pred`` (N, C) against labels ``target`` (N,), with its analytic gradient.

    Returns the summed loss divided by ``divisor`` (a number, a tensor or
    ``None``) if ``reduce_sum``, else the (N, C) per-element loss. The gradient is
    computed in the forward pass from the values already there and saved;
    backward only scales it by the incoming gradient.
    """

    @staticmethod
    def forward(ctx, pred, target, alpha, gamma, background, reduce_sum, divisor):
        num_classes = pred.size(1)
        table = _label_table(num_classes, alpha, background, pred.dtype, pred.device)
        row = _table_row(target, num_classes)
        sign, a_t, a_t_sign = table.index_select(1, row)  # each (N, C): dz/dx, a_t, a_t * dz/dx

        # In place wherever a value is dead: fewer fresh (N, C) buffers.
        z = sign.mul_(pred)
        q = torch.sigmoid(z)
        one_minus_q = torch.rsub(q, 1)
        scratch = torch.minimum(q, one_minus_q)
        softplus_z = z.clamp_min_(0).sub_(scratch.neg_().log1p_())
        q_gamma = torch.pow(q, gamma, out=scratch)
        unweighted = softplus_z.mul_(q_gamma)  # q**gamma * softplus(z): the loss over a_t

        if ctx.needs_input_grad[0]:
            # q**gamma * (gamma (1 - q) softplus(z) + q) = gamma (1 - q) unweighted + q**(gamma + 1)
            grad = q_gamma.mul_(q).addcmul_(one_minus_q, unweighted, value=gamma).mul_(a_t_sign)
            if isinstance(divisor, torch.Tensor):
                ctx.save_for_backward(grad, divisor)
            else:
                ctx.save_for_backward(grad)
                ctx.divisor = divisor

        if not reduce_sum:
            return unweighted * a_t
        loss = unweighted.mul_(a_t).sum()  # unweighted is dead once the gradient is taken
        return loss if divisor is None else loss / divisor

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        # One multiply of float32 tensors: autocast does not touch it.
        grad, *saved_divisor = ctx.saved_tensors
        divisor = saved_divisor[0] if saved_divisor else ctx.divisor
        if divisor is not None:
            grad_output = grad_output / divisor
        return grad * grad_output, None, None, None, None, None, None


@functools.lru_cache(maxsize=32)
def _row_counts(num_classes, background, device):
    """Per table row: 1.0 if a loss supervising ``background`` counts it, else 0.0."""
    counted = [kind is None or kind in background for kind in _row_kinds(num_classes)]
    return torch.tensor(counted, dtype=torch.float32, device=device)


def supervised_rows(target, num_classes, background):
    """1.0 for each row a loss supervising the kinds in ``background`` counts, else 0.0."""
    return _row_counts(num_classes, background, target.device)[_table_row(target, num_classes)]


def sigmoid_focal_loss(
    pred,
    target,
    *,
    background,
    alpha,
    gamma,
    weight=None,
    avg_factor=None,
    reduction="mean",
):
    """Focal loss over ``pred`` (N, C) logits and ``target`` (N,) labels.

    Rows labelled with a class always count; ``background`` (a frozenset of
    ``modes.BACKGROUND_KINDS``) says which other rows count, as all-negative rows.
    """
    device_type = pred.device.type
    if torch.is_autocast_enabled(device_type):
        with torch.autocast(device_type, enabled=False):
            if pred.dtype in LOW_PRECISION:
                pred = pred.float()
            return sigmoid_focal_loss(pred, target, background=background, alpha=alpha, gamma=gamma,
                                      weight=weight, avg_factor=avg_factor, reduction=reduction)

    divisor = None
    if reduction == "mean":
        divisor = avg_factor
        if divisor is None:  # the mean over the supervised elements
            if background == modes.BACKGROUND_ROWS[modes.CORRECTED]:
                divisor = pred.numel()
            else:
                divisor = (supervised_rows(target, pred.size(1), background).sum() * pred.size(1)).clamp_min(1)
    if weight is None and reduction != "none":
        # The common case (TAO never passes a weight): sum and divide inside the Function.
        if isinstance(divisor, torch.Tensor) and divisor.requires_grad:
            return _SigmoidFocal.apply(pred, target, alpha, gamma, background, True, None) / divisor
        return _SigmoidFocal.apply(pred, target, alpha, gamma, background, True, divisor)

    loss = _SigmoidFocal.apply(pred, target, alpha, gamma, background, False, None)
    if weight is not None:
        weight = weight.float()
        loss = loss * (weight.unsqueeze(1) if weight.dim() == 1 else weight)
    if reduction == "none":
        return loss
    return loss.sum() if divisor is None else loss.sum() / divisor
