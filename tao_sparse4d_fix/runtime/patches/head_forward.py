"""Target: ``sparse4d_head.Sparse4DHead.forward``: the head finds its data indices (side: ``temporal_align``).

With alignment on, the head compares each batch slot's ``group_idx`` and
``scene_idx`` with the last frame's, to forget last frame's (query, object)
pairs where a slot starts a new scene or group. TAO 6.25-7.2 read them from
``metas["img_metas"]``, which TAO's own dataloader never makes (its
``collate_fn`` gives ``metas["group_idx"]`` and ``metas["scene_idx"]``, where
7.3.0 reads them): every step would raise ``KeyError: 'img_metas'``. The head
gets them where it looks, in a shallow copy of the batch, only while its
alignment is on; otherwise the call is TAO's own.
"""
import inspect

from tao_sparse4d_fix.runtime import versions
from tao_sparse4d_fix.runtime.patches._base import MethodPatch

DATA_INDICES = ("group_idx", "scene_idx")


def give_data_indices(wrapped, instance, args, kwargs):
    bound = inspect.signature(wrapped).bind(*args, **kwargs)
    metas = bound.arguments["metas"]
    if instance.use_temporal_align and "img_metas" not in metas and all(key in metas for key in DATA_INDICES):
        per_slot = [dict(zip(DATA_INDICES, slot)) for slot in zip(*(metas[key] for key in DATA_INDICES))]
        bound.arguments["metas"] = {**metas, "img_metas": per_slot}
    return wrapped(*bound.args, **bound.kwargs)


PATCH = MethodPatch(
    title="temporal alignment: the head finds scene changes",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.sparse4d_head",),
    qualname="Sparse4DHead.forward",
    known=versions.known_code("Sparse4DHead.forward"),
    wrapper=give_data_indices,
    component="temporal_align",
)
