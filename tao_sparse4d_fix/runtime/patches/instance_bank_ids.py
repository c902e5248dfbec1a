"""Target: ``instance_bank.InstanceBank.get_instance_id`` (side: ``id_continuity``).

Applies the bank's track-ID settings (``runtime.id_settings``, handed over by
the head patch): the tracker's life cycle (``runtime.tracker``) when
``track_gate`` > 0, else ID continuity (``runtime.continuity``). TAO's own call
runs first; the frame is read to the host in one transfer (``runtime.id_frame``),
the IDs decided there, and only then is anything of the bank's written (its
carried IDs through TAO's own ``update_instance_id``, its ID counter last): if
the plugin's code raises, TAO's IDs and counter stand as TAO left them. With
every key off, or while TAO exports the model, TAO's own call is all that runs.

A duplicate the tracker suppresses is returned as ``id_settings.SUPPRESSED``, which the
decoder's patch drops from the frame's boxes (the head patch refuses a radius
when that patch is not applied).
"""
import inspect

from tao_sparse4d_fix.runtime import id_settings, versions
from tao_sparse4d_fix.runtime.patches._base import MethodPatch

TRACKS_ATTRIBUTE = "_tao_sparse4d_fix_tracks"  # per batch slot: the tracker's Tracks, on the bank


def assign_ids(wrapped, instance, args, kwargs):
    import torch

    from tao_sparse4d_fix.runtime import frame_ids, id_frame  # numpy: imported only where TAO runs

    settings = getattr(instance, id_settings.BANK_ATTRIBUTE, None)  # a bank the head did not set up: TAO's own IDs
    if settings is None or not settings.active or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
        return wrapped(*args, **kwargs)  # an export carries no frames
    bound = inspect.signature(wrapped).bind(*args, **kwargs)
    logits, anchor, threshold = (bound.arguments.get(name) for name in ("confidence", "anchor", "threshold"))
    if anchor is None or threshold is None:
        return wrapped(*args, **kwargs)
    frame = id_frame.read(instance, logits, anchor, instance.instance_id)  # before TAO's call changes the bank
    ids = wrapped(*args, **kwargs)
    if settings.tracking:
        previous = getattr(instance, TRACKS_ATTRIBUTE, None)
        shown, bank, next_id, tracks = frame_ids.by_tracker(frame, threshold, settings, previous)
    elif frame.carried_any:
        shown, bank, next_id, tracks = frame_ids.by_continuity(frame, threshold, settings.id_continuity_gate)
    else:
        return ids  # a scene's first frame: nothing carried, TAO's IDs are the continuity rule's
    out = torch.as_tensor(shown, dtype=ids.dtype, device=ids.device)
    carried = torch.as_tensor(bank, dtype=ids.dtype, device=ids.device)
    if instance.num_temp_instances > 0:
        instance.update_instance_id(carried, logits.detach().max(dim=-1).values.sigmoid())
    setattr(instance, TRACKS_ATTRIBUTE, tracks)
    counter = instance.prev_id
    instance.prev_id = torch.as_tensor(next_id, dtype=counter.dtype, device=counter.device) \
        if isinstance(counter, torch.Tensor) else next_id  # last: the bank's counter
    return out


PATCH = MethodPatch(
    title="track IDs: continuity or a tracker's life cycle",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.instance_bank",),
    qualname="InstanceBank.get_instance_id",
    known=versions.known_code("InstanceBank.get_instance_id"),
    wrapper=assign_ids,
    component="id_continuity",
)
