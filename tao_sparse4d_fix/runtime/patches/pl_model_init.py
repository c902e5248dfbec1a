"""Target: ``sparse4d_pl_model.Sparse4DPlModel.__init__``, where TAO builds the model and the criterion (side: ``temporal_align``).

``runtime.temporal_align`` decides, from the spec's ``model`` node and before
anything is built, whether temporal alignment is on (a contradiction stops the
run here). When it is on, TAO's objects are made to agree with the decision:

- the head's flag: ``build_head`` never passes ``use_temporal_align`` to
  ``Sparse4DHead``, so the head never forgets last frame's (query, object)
  pairs at a scene or group change (7.3.0 does only when every batch slot
  changes; ``head_forward`` lets 6.25-7.2's head find the changes);
- the instance bank's flag: off, it never records which queries it carries and
  the criterion's first step raises ``TypeError`` in ``topk_gt_index_mapping``;
- the head's sampler's flag, so every flag reads the same;
- the criterion's matcher's ``gt_assign_threshold``: ``SetCriterion`` builds its
  own sampler without it, so the spec's value never reached the loss.

When alignment is off nothing is touched: TAO runs as stock. The other
targets of ``temporal_align`` act only while these flags are on. The head's
flag is set only when its ``forward`` patch (head_forward) is applied: without
it TAO 6.25-7.2's head raises at the first step, so the run is stopped here.
"""
from tao_sparse4d_fix.runtime import temporal_align, versions
from tao_sparse4d_fix.runtime.patches._base import MethodPatch, UnsupportedTaoCode, is_patched

HEAD_METHOD = "forward"  # head_forward's target: the head finds its data indices only through it


def _experiment_spec(args, kwargs):
    return args[0] if args else kwargs["experiment_spec"]


def align_as_decided(wrapped, instance, args, kwargs):
    alignment = temporal_align.decide(_experiment_spec(args, kwargs)["model"])
    wrapped(*args, **kwargs)
    if alignment.on:
        head = instance.model.head
        if not is_patched(vars(type(head)).get(HEAD_METHOD)):
            raise UnsupportedTaoCode(
                f"tao-sparse4d-fix: {temporal_align.SWITCH}=true needs "
                f"{type(head).__module__}.{type(head).__qualname__}.{HEAD_METHOD} patched, and it is not in "
                f"nvidia-tao-pytorch {versions.tao_version()} (see the plugin's status table); the run is stopped "
                "so that it does not train with half of temporal alignment."
            )
        head.use_temporal_align = True
        head.instance_bank.use_temporal_align = True
        head.sampler.use_temporal_align = True
        criterion = getattr(instance, "criterion", None)  # 7.3.0 builds it only for training
        if criterion is not None:
            criterion.sampler.gt_assign_threshold = alignment.gt_assign_threshold


PATCH = MethodPatch(
    title="temporal alignment: one rule for its three flags",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.sparse4d_pl_model",),
    qualname="Sparse4DPlModel.__init__",
    known=versions.known_code("Sparse4DPlModel.__init__"),
    wrapper=align_as_decided,
    component="temporal_align",
)
