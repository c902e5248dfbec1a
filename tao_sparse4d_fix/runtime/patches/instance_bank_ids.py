"""Target: ``instance_bank.InstanceBank.get_instance_id`` (side: ``id_continuity``).

Carries track IDs over to the detections TAO would give fresh ones
(``runtime.continuity``), when the head set a gate on its bank; with a gate of
0, or while TAO exports the model, TAO's own call is all that runs. TAO's own IDs are computed
first, then corrected, and the bank's carried IDs recomputed from them with
TAO's own ``update_instance_id``.
"""
import inspect

from tao_sparse4d_fix.runtime import continuity, versions
from tao_sparse4d_fix.runtime.patches._base import MethodPatch


def carry_ids(wrapped, instance, args, kwargs):
    import torch

    gate = getattr(instance, continuity.BANK_ATTRIBUTE, 0.0)  # a bank the head did not hand a gate: TAO's own IDs
    if not gate or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():  # an export carries no frames
        return wrapped(*args, **kwargs)
    bound = inspect.signature(wrapped).bind(*args, **kwargs)
    logits, anchor, threshold = (bound.arguments.get(name) for name in ("confidence", "anchor", "threshold"))
    carried = instance.instance_id
    carried = None if carried is None else carried.clone()
    first_new = instance.prev_id + 0  # a copy: TAO adds to its tensor in place
    ids = wrapped(*args, **kwargs)
    if anchor is None or threshold is None or carried is None or carried.shape[0] != ids.shape[0]:
        return ids  # nothing carried (a scene's first frame), or nothing TAO would leave unshown
    corrected, still_new = continuity.inherit(ids, carried, logits, anchor, threshold, gate)
    instance.prev_id = first_new + still_new
    if instance.num_temp_instances > 0:
        instance.update_instance_id(corrected, logits.max(dim=-1).values.sigmoid())
    return ids.copy_(corrected)


PATCH = MethodPatch(
    title="track IDs carried over within a gate",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.instance_bank",),
    qualname="InstanceBank.get_instance_id",
    known=versions.known_code("InstanceBank.get_instance_id"),
    wrapper=carry_ids,
    component="id_continuity",
)
