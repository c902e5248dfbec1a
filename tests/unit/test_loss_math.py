"""The patched classification loss against an independent float64 reference.

``reference_focal_loss`` below is the per-element focal loss of Lin et al.
written out directly (``-a_t (1 - p_t)**gamma log p_t``), with the row rules of
each mode and TAO's weight / avg_factor / reduction / loss_weight handling. The
plugin's loss is reached the way training reaches it: through TAO's real
``FocalLoss`` with the plugin installed and ``background_supervision`` set.
"""
import importlib

import pytest
import torch
import torch.nn.functional as F

import tao_sparse4d_fix
from tao_sparse4d_fix.runtime import losses, modes
from conftest import set_mode

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)

CRITERION = "nvidia_tao_pytorch.cv.sparse4d.model.criterion"
NUM_CLASSES = 10
ALPHA, GAMMA, LOSS_WEIGHT = 0.25, 2.0, 2.0  # TAO's defaults for Sparse4D
PATCHED_MODES = ("corrected", "unmatched_only")



def make_loss(cls, mode=None, reduction="mean"):
    loss = cls(gamma=GAMMA, alpha=ALPHA, reduction=reduction, loss_weight=LOSS_WEIGHT)
    return loss if mode is None else set_mode(loss, mode)


def mixed_batch(rows=48, dtype=torch.float64, seed=0, scale=3.0):
    """Logits and labels with every kind of row: classes, C, -3 and -1."""
    generator = torch.Generator().manual_seed(seed)
    pred = (torch.randn(rows, NUM_CLASSES, generator=generator, dtype=torch.float64) * scale).to(dtype)
    kinds = torch.tensor([NUM_CLASSES, -3, -1])
    target = kinds[torch.randint(0, 3, (rows,), generator=generator)]
    matched = torch.randperm(rows, generator=generator)[: rows // 4]
    target[matched] = torch.randint(0, NUM_CLASSES, (len(matched),), generator=generator)
    target[:4] = torch.tensor([0, NUM_CLASSES - 1, -3, -1])  # every kind present whatever the draw
    target[4] = NUM_CLASSES
    return pred, target


def reference_focal_loss(pred, target, mode, weight=None, avg_factor=None, reduction="mean"):
    """Lin et al.'s focal loss per element, in float64, with each mode's rows."""
    x = pred.double()
    num_rows, num_classes = x.shape
    classes = torch.arange(num_classes)
    positive = target.unsqueeze(1) == classes  # labels outside [0, C) have no positive class
    log_p, log_one_minus_p = F.logsigmoid(x), F.logsigmoid(-x)  # log p, log (1 - p), stably
    log_p_t = torch.where(positive, log_p, log_one_minus_p)
    one_minus_p_t = torch.where(positive, log_one_minus_p, log_p).exp()
    a_t = torch.where(positive, ALPHA, 1 - ALPHA)
    loss = -a_t * one_minus_p_t**GAMMA * log_p_t

    if mode == "corrected":
        kept = torch.ones(num_rows, dtype=torch.float64)
    elif mode == "unmatched_only":  # C is background; negative labels (and > C) are ignored
        kept = ((target >= 0) & (target <= num_classes)).double()
    else:
        raise AssertionError(mode)
    loss = loss * kept.unsqueeze(1)

    if weight is not None:  # TAO casts the weight with .float()
        weight = weight.float().double()
        loss = loss * (weight.unsqueeze(1) if weight.dim() == 1 else weight)

    if reduction == "mean":
        if avg_factor is not None:
            loss = loss.sum() / avg_factor
        elif mode == "corrected":
            loss = loss.sum() / (num_rows * num_classes)
        else:
            loss = loss.sum() / max(kept.sum() * num_classes, 1)
    elif reduction == "sum":
        loss = loss.sum()
    return LOSS_WEIGHT * loss


def weight_for(kind, rows, seed=1):
    if kind is None:
        return None
    generator = torch.Generator().manual_seed(seed)
    shape = (rows,) if kind == "rows" else (rows, NUM_CLASSES)
    # Exactly representable in float32, since TAO's code casts the weight with .float().
    return torch.randint(1, 16, shape, generator=generator).double() / 8


def value_and_grad(loss, pred, target, **kwargs):
    leaf = pred.clone().requires_grad_()
    value = loss(leaf, target, **kwargs)
    (grad,) = torch.autograd.grad(value.sum(), leaf)
    return value.detach(), grad


@pytest.mark.parametrize("mode", PATCHED_MODES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight_kind", [None, "rows", "elements"])
@pytest.mark.parametrize("avg_factor", [None, 7.0, "tensor"])
def test_value_and_grad_match_reference(focal_loss, mode, reduction, weight_kind, avg_factor):
    pred, target = mixed_batch()
    weight = weight_for(weight_kind, len(target))
    if avg_factor == "tensor":
        avg_factor = torch.tensor(13.0, dtype=torch.float64)
    loss = make_loss(focal_loss, mode, reduction)

    value, grad = value_and_grad(loss, pred, target, weight=weight, avg_factor=avg_factor)

    leaf = pred.clone().requires_grad_()
    expected = reference_focal_loss(leaf, target, mode, weight, avg_factor, reduction)
    (expected_grad,) = torch.autograd.grad(expected.sum(), leaf)
    assert value.dtype == torch.float64
    assert value.shape == expected.shape
    torch.testing.assert_close(value, expected.detach(), rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("mode", PATCHED_MODES)
@pytest.mark.parametrize("scale", [1.0, 30.0, 300.0])
def test_float32_is_accurate_for_every_logit(focal_loss, mode, scale):
    """float32 stays within float32 rounding of the float64 reference, even for huge logits."""
    pred, target = mixed_batch(rows=256, dtype=torch.float32, scale=scale, seed=2)
    loss = make_loss(focal_loss, mode, reduction="none")
    value, grad = value_and_grad(loss, pred, target)

    leaf = pred.double().requires_grad_()  # the same logits, exactly
    expected = reference_focal_loss(leaf, target, mode, reduction="none")
    (expected_grad,) = torch.autograd.grad(expected.sum(), leaf)
    assert torch.isfinite(value).all() and torch.isfinite(grad).all()
    torch.testing.assert_close(value.double(), expected.detach(), rtol=1e-6, atol=1e-30)
    # The gradient's gamma (1 - q) softplus(z) term takes 1 - q from a rounded q: worst
    # near z = 16, about 2e-6 relative (the code before the custom Function: 4e-3).
    torch.testing.assert_close(grad.double(), expected_grad, rtol=4e-6, atol=1e-12)


@pytest.mark.once
@pytest.mark.parametrize("background", list(modes.BACKGROUND_ROWS.values()))
@pytest.mark.parametrize("reduce_sum, divisor", [(True, None), (True, 3.0), (True, "tensor"), (False, None)])
def test_gradcheck_focal_function(background, reduce_sum, divisor):
    pred, target = mixed_batch(rows=12)
    if divisor == "tensor":
        divisor = torch.tensor(5.0, dtype=torch.float64)

    def function(x):
        return losses._SigmoidFocal.apply(x, target, ALPHA, GAMMA, background, reduce_sum, divisor)

    assert torch.autograd.gradcheck(function, (pred.clone().requires_grad_(),))


@pytest.mark.once
def test_gradcheck_non_integer_gamma():
    pred, target = mixed_batch(rows=12)

    def function(x):
        return losses._SigmoidFocal.apply(x, target, 0.4, 1.5, modes.BACKGROUND_ROWS["corrected"], True, None)

    assert torch.autograd.gradcheck(function, (pred.clone().requires_grad_(),))


def grad_by_label(loss, pred, target):
    leaf = pred.clone().requires_grad_()
    loss(leaf, target, avg_factor=5.0).backward()
    return {label: leaf.grad[target == label] for label in (NUM_CLASSES, -3, -1)}


def test_corrected_supervises_every_background_row(focal_loss):
    pred, target = mixed_batch()
    grads = grad_by_label(make_loss(focal_loss, "corrected"), pred, target)
    for label, grad in grads.items():
        assert len(grad) > 0
        assert (grad != 0).all(), f"rows labelled {label} got no gradient"


def test_unmatched_only_supervises_c_and_ignores_negative_labels(focal_loss):
    pred, target = mixed_batch()
    grads = grad_by_label(make_loss(focal_loss, "unmatched_only"), pred, target)
    assert (grads[NUM_CLASSES] != 0).all()
    assert len(grads[-3]) > 0 and torch.equal(grads[-3], torch.zeros_like(grads[-3]))
    assert len(grads[-1]) > 0 and torch.equal(grads[-1], torch.zeros_like(grads[-1]))


@pytest.mark.parametrize("mode, labels", [
    ("corrected", (NUM_CLASSES,)),
    ("corrected", (-3,)),
    ("corrected", (NUM_CLASSES, -3, -1)),
    ("unmatched_only", (NUM_CLASSES,)),
    ("unmatched_only", (NUM_CLASSES, -3)),
])
def test_all_background_batch_keeps_the_graph(focal_loss, mode, labels):
    """No matched row at all: the loss still depends on the logits and pushes them down."""
    rows = 30
    pred = torch.randn(rows, NUM_CLASSES, generator=torch.Generator().manual_seed(4))
    target = torch.tensor(labels).repeat(rows // len(labels))
    leaf = pred.clone().requires_grad_()
    value = make_loss(focal_loss, mode)(leaf, target, avg_factor=1.0)
    assert value.grad_fn is not None
    assert value.item() > 0
    value.backward()
    supervised = target == NUM_CLASSES if mode == "unmatched_only" else torch.ones_like(target, dtype=torch.bool)
    assert (leaf.grad[supervised] > 0).all()  # gradient descent lowers every background logit


def test_stock_gives_denoising_negatives_no_gradient(stock_focal_loss):
    """What the fix is for: stock TAO drops -3 rows (and before 7.3.0 every row labelled C
    too), so a batch of them costs nothing and teaches nothing."""
    pred = torch.randn(30, NUM_CLASSES, requires_grad=True)
    value = make_loss(stock_focal_loss)(pred, torch.full((30,), -3), avg_factor=1.0)
    assert value.item() == 0
    if value.grad_fn is not None:  # 7.3.0 returns pred.sum() * 0 instead of a constant
        value.backward()
        assert torch.equal(pred.grad, torch.zeros_like(pred))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight_kind", [None, "elements"])
@pytest.mark.parametrize("avg_factor", [None, 7.0])
@pytest.mark.parametrize("all_background", [False, True])
def test_original_is_bit_identical_to_stock(focal_loss, reduction, weight_kind, avg_factor, all_background):
    pred, target = mixed_batch(dtype=torch.float32)
    if all_background:
        target = torch.full_like(target, NUM_CLASSES)
    weight = weight_for(weight_kind, len(target))
    weight = None if weight is None else weight.float()

    def run():
        leaf = pred.clone().requires_grad_()
        value = make_loss(importlib.import_module(CRITERION).FocalLoss, "original", reduction)(
            leaf, target, weight=weight, avg_factor=avg_factor)
        if value.requires_grad:
            value.sum().backward()
        return value.detach(), leaf.grad

    assert hasattr(focal_loss.__dict__["forward"], "__wrapped__")
    patched_value, patched_grad = run()
    tao_sparse4d_fix.uninstall()
    assert not hasattr(focal_loss.__dict__["forward"], "__wrapped__")
    stock_value, stock_grad = run()

    assert torch.equal(patched_value, stock_value)
    if stock_grad is None:
        assert patched_grad is None
    else:
        assert torch.equal(patched_grad, stock_grad)


def test_no_grad_gives_the_same_value(focal_loss):
    pred, target = mixed_batch()
    loss = make_loss(focal_loss, "corrected")
    with torch.no_grad():
        without = loss(pred, target, avg_factor=3.0)
    with_grad = loss(pred.clone().requires_grad_(), target, avg_factor=3.0)
    assert torch.equal(without, with_grad.detach())


def test_retained_graph_gives_the_same_gradient_twice(focal_loss):
    pred, target = mixed_batch()
    leaf = pred.clone().requires_grad_()
    value = make_loss(focal_loss, "corrected")(leaf, target, avg_factor=3.0)
    (first,) = torch.autograd.grad(value, leaf, retain_graph=True)
    (second,) = torch.autograd.grad(value, leaf)
    assert torch.equal(first, second)


def test_empty_batch(focal_loss):
    pred = torch.zeros(0, NUM_CLASSES, requires_grad=True)
    value = make_loss(focal_loss, "corrected")(pred, torch.zeros(0, dtype=torch.long), avg_factor=1.0)
    value.backward()
    assert value.item() == 0 and pred.grad.shape == pred.shape



@pytest.mark.parametrize("mode", PATCHED_MODES)
@pytest.mark.parametrize("avg_factor", [None, 40.0])
def test_cpu_bf16_autocast_computes_and_returns_float32(focal_loss, mode, avg_factor):
    """TAO's default precision is bf16-mixed: under autocast the loss is float32, as stock's is.

    Logits reach the loss in bfloat16 (a Linear's output under autocast): the value
    is float32 and within float32 rounding of the float64 reference on those same
    logits; the gradient goes back in bfloat16 (the logits' dtype) within its rounding.
    """
    pred, target = mixed_batch(rows=5400, dtype=torch.float32, seed=6)
    logits = pred.to(torch.bfloat16).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = make_loss(focal_loss, mode)(logits, target, avg_factor=avg_factor)
        stock = make_loss(focal_loss, "original")(logits, target, avg_factor=avg_factor)
    (grad,) = torch.autograd.grad(value, logits)
    assert value.dtype == torch.float32 and stock.dtype == torch.float32
    assert grad.dtype == torch.bfloat16

    exact = logits.detach().double().requires_grad_()
    expected = reference_focal_loss(exact, target, mode, avg_factor=avg_factor)
    (expected_grad,) = torch.autograd.grad(expected, exact)
    torch.testing.assert_close(value.double(), expected.detach(), rtol=1e-5, atol=0)
    torch.testing.assert_close(grad.double(), expected_grad, rtol=1e-2, atol=1e-6)


@pytest.mark.parametrize("mode", PATCHED_MODES)
def test_cpu_bf16_autocast_float32_logits_keep_float32_gradient(focal_loss, mode):
    pred, target = mixed_batch(rows=512, dtype=torch.float32, seed=7)
    leaf = pred.clone().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = make_loss(focal_loss, mode)(leaf, target, avg_factor=9.0)
    (grad,) = torch.autograd.grad(value, leaf)
    exact = pred.double().requires_grad_()
    expected = reference_focal_loss(exact, target, mode, avg_factor=9.0)
    (expected_grad,) = torch.autograd.grad(expected, exact)
    assert value.dtype == grad.dtype == torch.float32
    torch.testing.assert_close(value.double(), expected.detach(), rtol=1e-5, atol=0)
    torch.testing.assert_close(grad.double(), expected_grad, rtol=1e-5, atol=1e-9)
