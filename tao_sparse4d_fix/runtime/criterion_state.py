"""What the patches of TAO's criterion share, in one place.

Patches never import one another; they meet here. When TAO builds its
``SetCriterion``, ``criterion_init`` builds one ``CriterionState`` and hangs the
same object on the criterion and on its ``FocalLoss``; the loss reads the mode
from it, the diagnostics the mode and the score threshold. ``LossContract``
records, once per process, what TAO's own ``FocalLoss`` supervises (known from
its fingerprint or measured by ``loss_probe``) and whether the plugin wraps it.
"""
from dataclasses import dataclass
from typing import Optional

from tao_sparse4d_fix.runtime import modes

ATTRIBUTE = "_tao_sparse4d_fix_state"
DEFAULT_SCORE_THRESHOLD = 0.05  # TAO's model.head.decoder.score_threshold default


@dataclass
class CriterionState:
    mode: str = modes.DEFAULT
    source: str = "default"  # spec, override, default or config
    score_threshold: float = DEFAULT_SCORE_THRESHOLD  # the decoder's, counted against by the diagnostics


@dataclass(frozen=True)
class LossContract:
    stock_background: frozenset  # modes.BACKGROUND_KINDS the stock FocalLoss supervises
    wrapped: bool  # False when the stock loss already supervises every row
    verdict: str = ""  # how the stock FocalLoss was recognised (its status-table reason)


@dataclass
class _Recorded:
    """The LossContract of this process's TAO, once its FocalLoss is recognised (None before, and once undone)."""

    contract: Optional[LossContract] = None


_recorded = _Recorded()


def attach(state, *objects):
    for obj in objects:
        setattr(obj, ATTRIBUTE, state)


def of(obj) -> Optional[CriterionState]:
    """The state of a criterion or loss built while the plugin was installed, else None."""
    return getattr(obj, ATTRIBUTE, None)


def set_contract(contract):
    """Record ``contract``; None forgets it (the loss patch is undone)."""
    _recorded.contract = contract


def contract() -> LossContract:
    """What TAO's FocalLoss does; before it is recognised, assume the 6.25-7.2 loss."""
    return _recorded.contract or LossContract(frozenset(), True)
