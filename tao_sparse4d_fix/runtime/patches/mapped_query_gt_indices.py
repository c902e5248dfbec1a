"""Target: ``detection3d.target.SparseBox3DTarget._get_mapped_query_gt_indices`` (side: ``temporal_align``).

With temporal alignment on, the matcher looks up last frame's (query, object)
pairs in this frame and deletes those whose object is gone. When every pair of
a batch slot is gone (objects leaving the view, a new scene), TAO rebuilds an
empty mapping as a 1-D array and indexes it ``[:, 0]``: ``IndexError: too many
indices for array``. Such a slot is emptied here first, as TAO would have left
it, so TAO's own code takes its branch for a slot with nothing carried. Any
other input goes through the stock code untouched.
"""
import inspect

from tao_sparse4d_fix.runtime import versions
from tao_sparse4d_fix.runtime.patches._base import MethodPatch


def forget_slots_whose_objects_all_left(wrapped, instance, args, kwargs):
    bound = inspect.signature(wrapped).bind(*args, **kwargs)
    mapping, present = bound.arguments["index_mapping_prev"], bound.arguments["instance_id_target"]
    for slot in range(bound.arguments["bs"]):
        pairs = mapping[slot]
        if pairs and not any(instance_id in present[slot] for _, instance_id in pairs.values()):
            pairs.clear()  # TAO's own membership test, as it makes it
    return wrapped(*args, **kwargs)


PATCH = MethodPatch(
    title="temporal alignment: frames whose carried objects all left",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.detection3d.target",),
    qualname="SparseBox3DTarget._get_mapped_query_gt_indices",
    known=versions.known_code("SparseBox3DTarget._get_mapped_query_gt_indices"),
    wrapper=forget_slots_whose_objects_all_left,
    component="temporal_align",
)
