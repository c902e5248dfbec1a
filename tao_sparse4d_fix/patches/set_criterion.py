"""Target: ``criterion.SetCriterion.__init__``, where the spec reaches the loss.

After TAO builds its criterion, read ``model.head.loss.cls.background_supervision``
and hand the mode to the criterion's ``FocalLoss``. An invalid value raises here,
while the model is being built, so the run stops before its first step.
"""
from tao_sparse4d_fix import diagnostics, modes, report
from tao_sparse4d_fix.patches._base import MethodPatch
from tao_sparse4d_fix.patches.focal_loss import MODE_ATTRIBUTE


def _decoder_score_threshold(args, kwargs):
    """The inference threshold the diagnostics count against (TAO's default if unset)."""
    model_config = args[0] if args else kwargs["model_config"]
    try:
        return float(model_config["head"]["decoder"]["score_threshold"])
    except (KeyError, TypeError, ValueError):
        return diagnostics.DEFAULT_SCORE_THRESHOLD


def init(wrapped, instance, args, kwargs):
    wrapped(*args, **kwargs)
    mode, source = modes.from_cls_config(instance.cls_loss_config)
    setattr(instance.loss_cls, MODE_ATTRIBUTE, mode)
    setattr(instance, MODE_ATTRIBUTE, mode)
    instance.tao_sparse4d_fix_score_threshold = _decoder_score_threshold(args, kwargs)
    report.print_status_once(mode, source)


PATCH = MethodPatch(
    title="criterion reads the spec's background_supervision",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.criterion",),
    qualname="SetCriterion.__init__",
    known={
        "2408ce20a7dc108b": "6.25.7.0.2-7.2.0",
        "20ba2f97f9ae0a12": "7.3.0",
    },
    wrapper=init,
)
