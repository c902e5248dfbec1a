"""Target: ``criterion.FocalLoss.forward``, the classification loss.

Stock TAO keeps only rows with ``0 <= target < C``, so unmatched queries (``C``),
denoising negatives (``-3``) and lost temporal tracks (``-1``) get no loss at all.
``original`` calls the stock code untouched; the other modes are computed by
``tao_sparse4d_fix.losses``.
"""
import functools

from tao_sparse4d_fix import modes
from tao_sparse4d_fix.fingerprint import fingerprint
from tao_sparse4d_fix.patches._base import MethodPatch

MODE_ATTRIBUTE = "background_supervision"
RECORDER_ATTRIBUTE = "_tao_sparse4d_fix_calls"  # set by the diagnostics while a criterion runs
TAO_730 = "03943e4edef6a027"


def _arguments(pred, target, weight=None, avg_factor=None):
    return pred, target, weight, avg_factor


@functools.lru_cache(maxsize=None)
def stock_supervises_unmatched(focal_loss_class):
    """TAO 7.3.0's stock loss already supervises label C (not negative labels)."""
    return fingerprint(focal_loss_class.__dict__["forward"]) == TAO_730


def forward(wrapped, instance, args, kwargs):
    pred, target, weight, avg_factor = _arguments(*args, **kwargs)
    recorder = getattr(instance, RECORDER_ATTRIBUTE, None)
    if recorder is not None:
        recorder.append((pred.detach(), target))
    mode = getattr(instance, MODE_ATTRIBUTE, modes.DEFAULT)
    if mode == modes.ORIGINAL:
        return wrapped(*args, **kwargs)
    from tao_sparse4d_fix.losses import sigmoid_focal_loss

    loss = sigmoid_focal_loss(
        pred,
        target,
        mode=mode,
        alpha=instance.alpha,
        gamma=instance.gamma,
        weight=weight,
        avg_factor=avg_factor,
        reduction=instance.reduction,
    )
    return instance.loss_weight * loss


PATCH = MethodPatch(
    title="classification loss (background supervision)",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.criterion",),
    qualname="FocalLoss.forward",
    known={
        "f8ea3248ccad9d3c": "6.25.7.0.2-7.2.0: drops every row outside [0, C)",
        TAO_730: "7.3.0: supervises C, drops negative labels",
    },
    wrapper=forward,
)
