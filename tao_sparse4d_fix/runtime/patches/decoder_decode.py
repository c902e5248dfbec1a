"""Target: ``detection3d.decoder.SparseBox3DDecoder.decode`` (side: ``decoder``).

Two stock defects, fixed around the stock code rather than in a copy of it:
a list of per-layer ``reid_feature`` is indexed by the batch size instead of
the decoder layer, and ``topk(num_output)`` raises when ``num_output`` exceeds
the number of candidates. Everything else is TAO's own ``decode``.
"""
import inspect

from tao_sparse4d_fix.runtime import versions
from tao_sparse4d_fix.runtime.patches._base import MethodPatch


def fix_decode(wrapped, instance, args, kwargs):
    bound = inspect.signature(wrapped).bind(*args, **kwargs)
    bound.apply_defaults()
    output_idx = bound.arguments["output_idx"]
    reid_feature = bound.arguments["reid_feature"]
    if isinstance(reid_feature, (list, tuple)):
        bound.arguments["reid_feature"] = reid_feature[output_idx]

    scores = bound.arguments["cls_scores"][output_idx]
    squeezed = bound.arguments["instance_id"] is not None
    candidates = scores.shape[1] * (1 if squeezed else scores.shape[2])
    requested = instance.num_output
    instance.num_output = min(requested, candidates)
    try:
        return wrapped(*bound.args, **bound.kwargs)
    finally:
        instance.num_output = requested


PATCH = MethodPatch(
    title="decoder: reid_feature layer, topk clamp",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.detection3d.decoder",),
    qualname="SparseBox3DDecoder.decode",
    known=versions.known_code("SparseBox3DDecoder.decode"),
    wrapper=fix_decode,
    component="decoder",
)
