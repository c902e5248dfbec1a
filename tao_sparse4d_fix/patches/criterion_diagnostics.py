"""Target: ``criterion.SetCriterion.forward``: add the diagnostics scalars.

The classification loss records what it is called with while the criterion
runs; the last decoder layer's main-query call is summarised by
``tao_sparse4d_fix.diagnostics``. The losses themselves are untouched.
"""
from tao_sparse4d_fix import diagnostics, modes
from tao_sparse4d_fix.patches import focal_loss
from tao_sparse4d_fix.patches._base import MethodPatch


def forward(wrapped, instance, args, kwargs):
    if not diagnostics.enabled():
        return wrapped(*args, **kwargs)
    calls = []
    setattr(instance.loss_cls, focal_loss.RECORDER_ATTRIBUTE, calls)
    try:
        output = wrapped(*args, **kwargs)
    finally:
        delattr(instance.loss_cls, focal_loss.RECORDER_ATTRIBUTE)
    layers = args[0][0]["classification"] if args else kwargs["raw_model_outs"][0]["classification"]
    batch_size, queries = layers[-1].shape[:2]
    main_calls = [call for call in calls if call[0].shape[0] == batch_size * queries][: len(layers)]
    if main_calls:
        logits, target = main_calls[-1]
        mode = getattr(instance.loss_cls, focal_loss.MODE_ATTRIBUTE, modes.DEFAULT)
        output.update(
            diagnostics.scalars(
                logits,
                target,
                batch_size=batch_size,
                score_threshold=instance.tao_sparse4d_fix_score_threshold,
                mode=mode,
                stock_supervises_unmatched=focal_loss.stock_supervises_unmatched(type(instance.loss_cls)),
            )
        )
    return output


PATCH = MethodPatch(
    title="criterion adds background-score diagnostics",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.criterion",),
    qualname="SetCriterion.forward",
    known={
        "f524717db1c74641": "6.25.7.0.2-7.2.0",
        "eb37767b6da5eecd": "7.3.0",
    },
    wrapper=forward,
)
