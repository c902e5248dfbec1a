"""Target: ``detection3d.target.SparseBox3DTarget.sample``: frames without objects (side: ``temporal_align``).

With temporal alignment on, ``sample`` returns, with the targets, the
(query, object) pairs it matched in each batch slot, which the next decoder
layer and the instance bank read as dicts. A slot whose frame holds no object
gets ``None`` instead of an empty dict, and the next reader raises
(``AttributeError: 'NoneType' object has no attribute 'keys'`` in the next
layer, ``TypeError`` in ``topk_gt_index_mapping``). Such a slot is returned as
``{}``: nothing matched. The targets, and every call without alignment, are
TAO's own.
"""
import inspect

from tao_sparse4d_fix.runtime import versions
from tao_sparse4d_fix.runtime.patches._base import MethodPatch


def no_object_matches_nothing(wrapped, instance, args, kwargs):
    result = wrapped(*args, **kwargs)
    updates_pairs = inspect.signature(wrapped).bind(*args, **kwargs).arguments.get("update_gt_index_mapping")
    if instance.use_temporal_align and updates_pairs:
        *targets, pairs = result
        return (*targets, [{} if slot is None else slot for slot in pairs])
    return result


PATCH = MethodPatch(
    title="temporal alignment: frames without objects",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.detection3d.target",),
    qualname="SparseBox3DTarget.sample",
    known=versions.known_code("SparseBox3DTarget.sample"),
    wrapper=no_object_matches_nothing,
    component="temporal_align",
)
