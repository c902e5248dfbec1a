"""Target: ``sparse4d_head.Sparse4DHead.__init__`` (side: ``id_continuity``).

The head is where TAO's config meets its instance bank: after TAO builds the
head, read the track-ID keys of ``model.head.instance_bank``
(``runtime.id_settings``) and hand them to the bank, whose ``get_instance_id``
patch (instance_bank_ids) applies them. A bad value stops the build, before any
step. Settings other than the defaults asked for while a patch they need is not
applied (the bank's, or the decoder's for duplicate suppression) stop it too, so
no run silently tracks without them; the defaults then only warn: TAO's own IDs.
"""
from tao_sparse4d_fix.runtime import id_settings, run_log, versions
from tao_sparse4d_fix.runtime.patches._base import MethodPatch, UnsupportedTaoCode, is_patched

BANK_METHOD = "get_instance_id"  # the instance_bank_ids patch's target on the bank's class
DECODER_METHOD = "decode"  # the decoder_decode patch's target: it drops suppressed duplicates


def _bank_config(config):
    try:
        return config["model"]["head"]["instance_bank"]
    except (KeyError, TypeError):
        return None


def _missing(settings, bank, decoder):
    """The patched targets these settings need that are not patched here."""
    needed = [(bank, BANK_METHOD)]
    if settings.tracking and settings.track_nms_radius > 0:
        needed.append((decoder, DECODER_METHOD))
    return [f"{type(owner).__module__}.{type(owner).__qualname__}.{method}" for owner, method in needed
            if not is_patched(vars(type(owner)).get(method))]


def give_settings(wrapped, instance, args, kwargs):
    wrapped(*args, **kwargs)
    config = args[0] if args else kwargs.get("config")
    settings = id_settings.from_bank_config(_bank_config(config))
    if not settings.active:
        return
    missing = _missing(settings, instance.instance_bank, instance.decoder)
    if missing:
        if settings == id_settings.Settings():  # the defaults, not a request: a skipped side patch never stops a run
            run_log.warn(f"{', '.join(missing)} not patched: the plugin's track IDs are off, TAO's own track IDs")
            return
        raise UnsupportedTaoCode(
            f"tao-sparse4d-fix: {id_settings.NODE} asks for {', '.join(settings.changed())}, but "
            f"{', '.join(missing)} is not patched in nvidia-tao-pytorch {versions.tao_version()} (see the plugin's "
            "status table); the run is stopped so that it does not track without it."
        )
    setattr(instance.instance_bank, id_settings.BANK_ATTRIBUTE, settings)
    how = (f"tracker: gate {settings.track_gate:g} m (+{settings.track_speed_gate:g} x speed x time), memory "
           f"{settings.track_max_age} frames, {settings.track_assignment}, duplicates within "
           f"{settings.track_nms_radius:g} m suppressed" if settings.tracking
           else f"ID continuity: a fresh detection takes the ID of a carried query within {settings.id_continuity_gate:g} m")
    run_log.info(f"{id_settings.NODE} track IDs: {how}")


PATCH = MethodPatch(
    title="track-ID spec keys of model.head.instance_bank reach the bank",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.sparse4d_head",),
    qualname="Sparse4DHead.__init__",
    known=versions.known_code("Sparse4DHead.__init__"),
    wrapper=give_settings,
    component="id_continuity",
)
