"""``FocalLoss.forward`` with a new fingerprint is recognised by what it computes.

Each variant is compiled in the test from source text, in the namespace of TAO's
real criterion module, and put in place of the stock method, as a future TAO
release would ship it. Known releases never run the probe.
"""
import ast
import inspect
import textwrap

import pytest
import torch

import tao_sparse4d_fix
from tao_sparse4d_fix.runtime import criterion_state, loss_probe, losses, modes, registry, status, versions
from tao_sparse4d_fix.runtime.fingerprint import fingerprint
from tao_sparse4d_fix.runtime.patches import focal_loss_forward
from conftest import set_mode, tao_version_tuple

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)

# A focal loss written out directly (not TAO's text), with switches for which rows
# it keeps and for the two formula changes the probe must refuse.
VARIANT = '''
def forward(self, pred, target, weight=None, avg_factor=None):
    num_classes = pred.size(1)
    kept = (target >= 0) & (target < num_classes)
    if {keeps_c}:
        kept = kept | (target == num_classes)
    if {keeps_negative}:
        kept = kept | (target < 0)
    kept = kept.to(pred.dtype).unsqueeze(1)
    positive = (target.unsqueeze(1) == torch.arange(num_classes, device=pred.device)).to(pred.dtype)
    goal = positive * (1 - {smoothing}) + {smoothing} / 2
    p = pred.sigmoid()
    p_t = p * positive + (1 - p) * (1 - positive)
    a_t = {alpha_positive} * positive + {alpha_negative} * (1 - positive)
    loss = a_t * (1 - p_t) ** self.gamma * F.binary_cross_entropy_with_logits(pred, goal, reduction="none") * kept
    if weight is not None:
        loss = loss * weight.float()
    if self.reduction == "mean":
        divisor = avg_factor if avg_factor is not None else (kept.sum() * num_classes).clamp(min=1)
        loss = loss.sum() / divisor
    elif self.reduction == "sum":
        loss = loss.sum()
    return self.loss_weight * loss
'''


def variant(keeps_c=False, keeps_negative=False, smoothing=0.0, swap_alpha=False):
    alpha = ("self.alpha", "(1 - self.alpha)")
    return VARIANT.format(keeps_c=keeps_c, keeps_negative=keeps_negative, smoothing=smoothing,
                          alpha_positive=alpha[swap_alpha], alpha_negative=alpha[not swap_alpha])


class _RenameLocals(ast.NodeTransformer):
    NAMES = {"num_classes": "n_cls", "valid_mask": "keep", "loss": "out", "p": "prob", "pt": "prob_t"}

    def visit_Name(self, node):
        node.id = self.NAMES.get(node.id, node.id)
        return node


def reformatted_stock(criterion):
    """TAO's own forward with its locals renamed, re-printed by ast.unparse: same behaviour, new fingerprint."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(criterion.FocalLoss.forward)))
    return ast.unparse(_RenameLocals().visit(tree))


def compiled(criterion, source, path):
    """``forward`` compiled from ``source`` (kept in ``path``, where inspect finds it), with TAO's globals."""
    path.write_text(source)
    namespace = dict(vars(criterion))
    exec(compile(source, str(path), "exec"), namespace)
    return namespace["forward"]


@pytest.fixture
def replace_forward(criterion, monkeypatch, tmp_path):
    tao_sparse4d_fix.uninstall()

    def replace(source):
        function = compiled(criterion, source, tmp_path / f"variant_{len(list(tmp_path.iterdir()))}.py")
        assert fingerprint(function) not in focal_loss_forward.PATCH.known
        monkeypatch.setattr(criterion.FocalLoss, "forward", function)
        return function

    yield replace
    tao_sparse4d_fix.uninstall()


def loss_row():
    return next(row for row in status.rows() if row.target.endswith(".FocalLoss.forward"))


def stock_drops():
    return "{-1, -3}" if tao_version_tuple() >= (7, 3) else "{C, -1, -3}"


def mixed_batch():
    generator = torch.Generator().manual_seed(5)
    target = torch.tensor([0, 1, 2, 3, 4, -1, -3, 4, 2, -3, 4, 0])
    return torch.randn(len(target), 4, generator=generator), target


def corrected_reference(pred, target, avg_factor):
    return 2.0 * losses.sigmoid_focal_loss(pred, target, background=modes.BACKGROUND_ROWS["corrected"],
                                           alpha=0.25, gamma=2.0, avg_factor=avg_factor)


def assert_patched_loss_is_corrected(criterion):
    assert focal_loss_forward.PATCH.is_applied(criterion)
    pred, target = mixed_batch()
    loss = criterion.FocalLoss(gamma=2.0, alpha=0.25, loss_weight=2.0)
    torch.testing.assert_close(loss(pred, target, avg_factor=3.0), corrected_reference(pred, target, 3.0))


@pytest.mark.parametrize("name, source, drops", [
    ("reformatted", reformatted_stock, stock_drops),
    ("refactored", lambda criterion: variant(), lambda: "{C, -1, -3}"),
    ("refactored, keeps C", lambda criterion: variant(keeps_c=True), lambda: "{-1, -3}"),
])
def test_equivalent_code_is_recognised_by_behaviour_and_patched(criterion, replace_forward, name, source, drops):
    altered = replace_forward(source(criterion))
    tao_sparse4d_fix.install()
    row = loss_row()
    assert row.applied and row.role == "core"
    assert row.why == f"TAO {versions.tao_version()}: recognised by behaviour: drops labels {drops()}"
    assert_patched_loss_is_corrected(criterion)
    # original still runs the (altered) stock code untouched
    pred, target = mixed_batch()
    stock_loss = criterion.FocalLoss(gamma=2.0, alpha=0.25, loss_weight=2.0)
    assert torch.equal(set_mode(criterion.FocalLoss(gamma=2.0, alpha=0.25, loss_weight=2.0), "original")(
        pred, target, avg_factor=3.0), altered(stock_loss, pred, target, avg_factor=3.0))


@pytest.mark.parametrize("name, source, named", [
    ("label smoothing", variant(smoothing=0.1), "another loss on the rows it supervises"),
    ("alpha on the negatives", variant(swap_alpha=True), "another loss on the rows it supervises"),
    ("-1 kept, -3 dropped", variant(keeps_negative=True).replace("(target < 0)", "(target == -1)"),
     "treats labels -1 and -3 differently"),
    ("signature", variant().replace("weight=None, avg_factor=None", "avg_factor=None, weight=None"),
     "its signature changed"),
    ("exception", variant().replace("num_classes = pred.size(1)", "num_classes = pred.size(5)"),
     "it raised IndexError"),
])
def test_different_code_is_refused_naming_what_differed(criterion, replace_forward, name, source, named):
    replace_forward(source)
    with pytest.raises(registry.UnsupportedTaoCode) as raised:
        tao_sparse4d_fix.install()
    message = str(raised.value)
    assert "cannot patch nvidia_tao_pytorch.cv.sparse4d.model.criterion.FocalLoss.forward" in message
    assert "unrecognised code (fingerprint " in message and named in message
    assert not focal_loss_forward.PATCH.is_applied(criterion)


def test_code_that_supervises_every_row_is_left_alone(criterion, experiment_config, replace_forward):
    from omegaconf import OmegaConf

    altered = replace_forward(variant(keeps_c=True, keeps_negative=True))
    tao_sparse4d_fix.install()
    row = loss_row()
    assert not row.applied
    assert row.why == f"TAO {versions.tao_version()}: already supervises background; nothing to fix"
    assert criterion.FocalLoss.__dict__["forward"] is altered  # not wrapped
    cfg = OmegaConf.structured(experiment_config)
    built = criterion.SetCriterion(cfg.model, None)
    assert criterion_state.of(built.loss_cls).mode == "corrected"  # runs on TAO's own code
    pred, target = mixed_batch()
    torch.testing.assert_close(built.loss_cls(pred, target, avg_factor=3.0),
                               corrected_reference(pred, target, 3.0) * cfg.model.head.loss.cls.loss_weight / 2.0)
    cfg.model.head.loss.cls.background_supervision = "unmatched_only"
    with pytest.raises(modes.InvalidMode, match="already supervises every row"):
        criterion.SetCriterion(cfg.model, None)


def test_known_releases_take_the_fingerprint_path(criterion, monkeypatch):
    tao_sparse4d_fix.uninstall()

    def must_not_run(*args):
        raise AssertionError("the probe ran for a known fingerprint")

    monkeypatch.setattr(loss_probe, "probe", must_not_run)
    tao_sparse4d_fix.install()
    try:
        assert loss_row().why.startswith("stock code of TAO ")
        assert_patched_loss_is_corrected(criterion)
    finally:
        tao_sparse4d_fix.uninstall()


def test_probe_runs_once_per_function(criterion, replace_forward, monkeypatch):
    altered = replace_forward(variant())
    calls = []
    real = loss_probe._probe
    monkeypatch.setattr(loss_probe, "_probe", lambda *args: calls.append(1) or real(*args))
    for _ in range(3):
        focal_loss_forward.PATCH.recognise(criterion)
    assert len(calls) == 1
    assert loss_probe.probe(criterion.FocalLoss, altered).stock_background == frozenset()


def test_stock_code_passes_the_probe_too(criterion):
    """The probe agrees with the fingerprint table on the real stock method of this release."""
    tao_sparse4d_fix.uninstall()
    stock = criterion.FocalLoss.__dict__["forward"]
    verdict = loss_probe.probe(criterion.FocalLoss, stock)
    assert verdict.stock_background == focal_loss_forward.STOCK_BACKGROUND[fingerprint(stock)]
