"""Target: ``criterion.GaussianFocalLoss.forward``, the yawness term (side: ``nan_guard``).

TAO reduces it with ``.mean()`` and no ``avg_factor``; when no matched query
passes ``cls_threshold_to_reg`` it averages an empty tensor and returns NaN,
poisoning the whole step. Correct background supervision lowers scores, so that
becomes common exactly when the fix is on. Empty input now gives a zero that
keeps the graph connected; any other input goes through the stock code.
"""
from tao_sparse4d_fix.runtime import versions
from tao_sparse4d_fix.runtime.patches._base import MethodPatch


def guard_empty_input(wrapped, instance, args, kwargs):
    pred = args[0] if args else kwargs["pred"]
    if pred.numel() == 0 and instance.reduction == "mean":
        return pred.sum() * instance.loss_weight
    return wrapped(*args, **kwargs)


PATCH = MethodPatch(
    title="yawness loss NaN guard (empty input)",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.criterion",),
    qualname="GaussianFocalLoss.forward",
    known=versions.known_code("GaussianFocalLoss.forward"),
    wrapper=guard_empty_input,
    component="nan_guard",
)
