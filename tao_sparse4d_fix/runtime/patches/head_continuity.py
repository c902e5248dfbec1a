"""Target: ``sparse4d_head.Sparse4DHead.__init__`` (side: ``id_continuity``).

The head is where TAO's config meets its instance bank: after TAO builds the
head, read ``model.head.instance_bank.id_continuity_gate`` and hand the gate to
the bank, whose ``get_instance_id`` patch (instance_bank_ids) carries IDs over.
An invalid gate stops the build, before any step; a gate other than the
default asked for while the bank's patch is not applied stops it too, so no run
silently tracks without it (the default then only warns: TAO's own IDs).
"""
from tao_sparse4d_fix.runtime import continuity, run_log, versions
from tao_sparse4d_fix.runtime.patches._base import MethodPatch, UnsupportedTaoCode, is_patched

BANK_METHOD = "get_instance_id"  # the instance_bank_ids patch's target on the bank's class


def _bank_config(config):
    try:
        return config["model"]["head"]["instance_bank"]
    except (KeyError, TypeError):
        return None


def give_gate(wrapped, instance, args, kwargs):
    wrapped(*args, **kwargs)
    config = args[0] if args else kwargs.get("config")
    gate = continuity.from_bank_config(_bank_config(config))
    if not gate:
        return
    bank = instance.instance_bank
    if not is_patched(vars(type(bank)).get(BANK_METHOD)):
        target = f"{type(bank).__module__}.{type(bank).__qualname__}.{BANK_METHOD}"
        if gate == continuity.DEFAULT:  # the default, not a request: a skipped side patch never stops a run
            run_log.warn(f"{target} is not patched: ID continuity is off, TAO's own track IDs")
            return
        raise UnsupportedTaoCode(
            f"tao-sparse4d-fix: {continuity.CONFIG_KEY}={gate:g} asks for ID continuity, but "
            f"{type(bank).__module__}.{type(bank).__qualname__}.{BANK_METHOD} is not patched in nvidia-tao-pytorch "
            f"{versions.tao_version()} (see the plugin's status table); the run is stopped so that it does not "
            "track without it."
        )
    setattr(bank, continuity.BANK_ATTRIBUTE, gate)
    run_log.info(f"{continuity.CONFIG_KEY}: {gate:g} m: a fresh detection takes the ID of a carried query within it")


PATCH = MethodPatch(
    title="spec key model.head.instance_bank.id_continuity_gate reaches the bank",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.sparse4d_head",),
    qualname="Sparse4DHead.__init__",
    known=versions.known_code("Sparse4DHead.__init__"),
    wrapper=give_gate,
    component="id_continuity",
)
