"""The one rule for TAO's three ``use_temporal_align`` flags, decided before TAO builds anything.

TAO reads each flag in a different place: ``model.use_temporal_align`` in
``SetCriterion`` (the loss's matcher keeps last frame's pairs),
``model.head.instance_bank.use_temporal_align`` in the instance bank (it records
which queries it carries, which the criterion then needs) and
``model.head.sampler.use_temporal_align`` in the head's own sampler, which only
builds denoising targets. Only the first is a real choice; the others must agree
with it or TAO crashes (bank off: ``TypeError`` at the first step) or does
nothing (bank or sampler on alone). So ``model.use_temporal_align`` is the
switch and the other two follow it; a follower set ``true`` while the switch is
``false`` is a contradiction, refused before the model is built.
Standard library only.
"""
from dataclasses import dataclass

from tao_sparse4d_fix.errors import PluginError

SWITCH = "model.use_temporal_align"
BANK = "model.head.instance_bank.use_temporal_align"
SAMPLER = "model.head.sampler.use_temporal_align"
GATE = "model.head.sampler.gt_assign_threshold"


class ContradictoryAlignment(PluginError, ValueError):
    """A follower flag asks for temporal alignment that ``model.use_temporal_align`` switches off."""


@dataclass(frozen=True)
class Alignment:
    """What the model and the criterion get: alignment on or off, and the matcher's gate."""

    on: bool
    gt_assign_threshold: float


def decide(model_config):
    """The ``Alignment`` that TAO's ``model`` config node asks for; raises ``ContradictoryAlignment``."""
    head = model_config["head"]
    switch = bool(model_config["use_temporal_align"])
    followers = {BANK: bool(head["instance_bank"]["use_temporal_align"]),
                 SAMPLER: bool(head["sampler"]["use_temporal_align"])}
    contradicting = [key for key, on in followers.items() if on and not switch]
    if contradicting:
        raise ContradictoryAlignment(
            f"tao-sparse4d-fix: {', '.join(f'{key}=true' for key in contradicting)} but {SWITCH}=false: "
            f"temporal alignment is switched by {SWITCH} alone ({BANK} and {SAMPLER} follow it). "
            f"Set {SWITCH}=true to train with it, or {' and '.join(f'{key}=false' for key in contradicting)} "
            "to train without it."
        )
    return Alignment(switch, float(head["sampler"]["gt_assign_threshold"]))
