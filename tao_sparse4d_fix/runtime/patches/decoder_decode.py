"""Target: ``detection3d.decoder.SparseBox3DDecoder.decode`` (side: ``decoder``).

Two stock defects, fixed around the stock code rather than in a copy of it:
a list of per-layer ``reid_feature`` is indexed by the batch size instead of
the decoder layer, and ``topk(num_output)`` raises when ``num_output`` exceeds
the number of candidates. Everything else is TAO's own ``decode``. Boxes
whose track ID is ``id_settings.SUPPRESSED`` (the tracker's duplicates) are
dropped from the frame's output, after TAO moved it to the host.
"""
import inspect

from tao_sparse4d_fix.runtime import id_settings, versions
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
        frames = wrapped(*bound.args, **bound.kwargs)
    finally:
        instance.num_output = requested
    return [_without_suppressed(frame) for frame in frames] if squeezed else frames


def _without_suppressed(frame):
    """One frame's output without the boxes of suppressed duplicates (host tensors: no device read)."""
    ids = frame.get("instance_ids")
    if ids is None:
        return frame
    keep = ids != id_settings.SUPPRESSED
    if bool(keep.all()):
        return frame
    return {key: value[keep] if getattr(value, "shape", ())[:1] == ids.shape else value for key, value in frame.items()}


PATCH = MethodPatch(
    title="decoder: reid_feature layer, topk clamp",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.detection3d.decoder",),
    qualname="SparseBox3DDecoder.decode",
    known=versions.known_code("SparseBox3DDecoder.decode"),
    wrapper=fix_decode,
    component="decoder",
)
