"""Target: ``criterion.FocalLoss.forward``, the classification loss (core).

Stock TAO keeps only rows with ``0 <= target < C``, so unmatched queries (``C``),
denoising negatives (``-3``) and lost temporal tracks (``-1``) get no loss at all.
``original`` calls the stock code untouched; the other modes are computed by
``tao_sparse4d_fix.runtime.losses``.

Known releases are recognised by fingerprint. Code with a new fingerprint is
recognised by what it computes (``loss_probe``): a loss that matches ours on
the rows it supervises and drops some others is patched; one that already
supervises every row is left alone; anything else is refused.
"""
import dataclasses

from tao_sparse4d_fix.runtime import criterion_state, loss_probe, modes, rank_guard, versions
from tao_sparse4d_fix.runtime.patches._base import MethodPatch, Recognition, unrecognised

QUALNAME = "FocalLoss.forward"
# What the stock loss of each known fingerprint supervises outside [0, C)
STOCK_BACKGROUND = {fp: versions.stock_code(fp).loss_supervises for fp in versions.known_code(QUALNAME)}


def _arguments(pred, target, weight=None, avg_factor=None):
    return pred, target, weight, avg_factor


def supervise_background(wrapped, instance, args, kwargs):
    state = criterion_state.of(instance)
    rank_guard.check_once(state)
    mode = state.mode if state else modes.DEFAULT
    if mode == modes.ORIGINAL:
        return wrapped(*args, **kwargs)
    from tao_sparse4d_fix.runtime.losses import sigmoid_focal_loss

    pred, target, weight, avg_factor = _arguments(*args, **kwargs)
    loss = sigmoid_focal_loss(
        pred,
        target,
        background=modes.BACKGROUND_ROWS[mode],
        alpha=instance.alpha,
        gamma=instance.gamma,
        weight=weight,
        avg_factor=avg_factor,
        reduction=instance.reduction,
    )
    return instance.loss_weight * loss


class FocalLossPatch(MethodPatch):
    """The fingerprint fast path, then recognition by behaviour."""

    def recognise_known(self, found):
        contract = criterion_state.LossContract(STOCK_BACKGROUND[found], wrapped=True)
        return Recognition(True, f"stock code of TAO {self.known[found]}", contract)

    def recognise_unknown(self, module, current, found):
        verdict = loss_probe.probe(module.FocalLoss, current)
        if verdict.stock_background is None:
            return Recognition(False, f"{unrecognised(found)}: {verdict.detail}")
        tao = f"TAO {versions.tao_version()}"
        if verdict.stock_background == modes.BACKGROUND_ROWS[modes.CORRECTED]:
            contract = criterion_state.LossContract(verdict.stock_background, wrapped=False)
            return Recognition(True, f"{tao}: already supervises background; nothing to fix", contract)
        contract = criterion_state.LossContract(verdict.stock_background, wrapped=True)
        dropped = modes.dropped_labels(verdict.stock_background)
        return Recognition(True, f"{tao}: recognised by behaviour: drops labels {dropped}", contract)

    def apply(self, module, recognition=None):
        recognition = recognition or self.recognise(module)
        # forced over code that was not recognised: assume the stock loss drops every background row
        contract = recognition.contract or criterion_state.LossContract(frozenset(), wrapped=True)
        criterion_state.set_contract(dataclasses.replace(contract, verdict=recognition.detail))
        if contract.wrapped:
            super().apply(module)

    def revert(self, module):
        criterion_state.set_contract(None)
        super().revert(module)


PATCH = FocalLossPatch(
    title="classification loss (background supervision)",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.criterion",),
    qualname=QUALNAME,
    known={fp: f"{releases}: {versions.stock_code(fp).loss_text()}" for fp, releases in versions.known_code(QUALNAME).items()},
    wrapper=supervise_background,
)
