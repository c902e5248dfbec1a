"""The patched classification loss never makes a CUDA device wait for the host.

``SyncProbe`` is a ``TorchDispatchMode`` that records every operator which, on
a CUDA tensor, copies data to the host before it can return (so the CPU waits
for the GPU): ``.item()`` / ``bool(tensor)`` (``_local_scalar_dense``,
``is_nonzero``), ``nonzero``, ``masked_select``, ``unique`` and boolean-mask
indexing (``index`` / ``index_put`` with a bool or uint8 index, which TAO's
stock loss uses to drop rows). It sees the operators themselves, so it works on
the CPU: no GPU is needed to tell a loss that would stall one.
"""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from conftest import set_mode

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)


NUM_CLASSES = 10

# Operators whose output size or value the host must read back from the device.
SYNCING = {
    "aten::_local_scalar_dense",
    "aten::is_nonzero",
    "aten::nonzero",
    "aten::masked_select",
    "aten::_unique",
    "aten::_unique2",
    "aten::unique_dim",
    "aten::unique_consecutive",
}
# Indexing operators that sync only when an index is a boolean (or uint8) mask.
MASK_INDEXED = {"aten::index", "aten::index_put", "aten::index_put_", "aten::_index_put_impl_"}


class SyncProbe(TorchDispatchMode):
    """Record the operators run under it that force a device-to-host synchronisation."""

    def __init__(self):
        super().__init__()
        self.syncs = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func._schema.name
        if name in SYNCING:
            self.syncs.append(str(func))
        elif name in MASK_INDEXED:
            indices = args[1] if len(args) > 1 else kwargs.get("indices", ())
            if any(isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8) for i in indices):
                self.syncs.append(f"{func} with a boolean mask")
        return func(*args, **kwargs)



def real_step_calls(batch=6, queries=900, dn_groups=5, max_gt=32, seed=0):
    """The (pred, target, avg_factor) FocalLoss gets for one decoder layer of a real step:
    the matched-query rows (about 3 % matched, the rest C) and the denoising rows
    (class labels, -3 negatives, -1 lost tracks)."""
    generator = torch.Generator().manual_seed(seed)
    target = torch.full((batch, queries), NUM_CLASSES)
    for b in range(batch):
        chosen = torch.randperm(queries, generator=generator)[:max_gt]
        target[b, chosen] = torch.randint(0, NUM_CLASSES, (max_gt,), generator=generator)
    matched = target.flatten()

    positives = torch.randint(0, NUM_CLASSES, (batch * dn_groups * max_gt,), generator=generator)
    positives[torch.rand(len(positives), generator=generator) < 0.1] = -1  # lost temporal tracks
    dn = torch.cat([positives, torch.full_like(positives, -3)])

    calls = []
    for target in (matched, dn):
        pred = torch.randn(len(target), NUM_CLASSES, generator=generator) * 2 - 4.6
        avg_factor = torch.tensor(float(max(int((target >= 0).sum()), 1)))
        calls.append((pred.requires_grad_(), target, avg_factor))
    return calls


def probe_forward_backward(loss, calls, **kwargs):
    """Run every call's forward and one backward through the sum under the probe."""
    with SyncProbe() as probe:
        total = sum(loss(pred, target, avg_factor=avg_factor, **kwargs) for pred, target, avg_factor in calls)
        total.backward()
    for pred, _, _ in calls:
        assert pred.grad is not None
    return probe.syncs


def make_loss(cls, mode=None, reduction="mean"):
    loss = cls(gamma=2.0, alpha=0.25, reduction=reduction, loss_weight=2.0)
    return loss if mode is None else set_mode(loss, mode)


@pytest.mark.parametrize("mode", ["corrected", "unmatched_only"])
def test_patched_loss_never_syncs_at_real_shapes(focal_loss, mode):
    calls = real_step_calls()
    assert probe_forward_backward(make_loss(focal_loss, mode), calls) == []


@pytest.mark.parametrize("mode", ["corrected", "unmatched_only"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("with_weight", [False, True])
def test_patched_loss_never_syncs_on_any_path(focal_loss, mode, reduction, with_weight):
    calls = real_step_calls(batch=2, queries=50, dn_groups=2, max_gt=4)
    syncs = []
    for pred, target, avg_factor in calls:
        weight = torch.rand(len(target)) if with_weight else None
        for factor in (avg_factor, 3.0, None):
            pred.grad = None
            with SyncProbe() as probe:
                value = make_loss(focal_loss, mode, reduction)(pred, target, weight=weight, avg_factor=factor)
                value.sum().backward()
            syncs += probe.syncs
    assert syncs == []


def test_probe_catches_the_stock_loss(stock_focal_loss):
    """The same probe on TAO's own FocalLoss: its row mask (.any() and bool indexing) syncs."""
    syncs = probe_forward_backward(make_loss(stock_focal_loss), real_step_calls())
    assert len(syncs) >= 1
    assert any("_local_scalar_dense" in s or "is_nonzero" in s for s in syncs), syncs
    assert any("boolean mask" in s for s in syncs), syncs


def test_probe_catches_original_mode(focal_loss):
    """``original`` runs TAO's code, syncs included."""
    assert len(probe_forward_backward(make_loss(focal_loss, "original"), real_step_calls())) >= 1


@pytest.mark.once
@pytest.mark.parametrize("operation, syncs", [
    (lambda x: x.sum().item(), True),
    (lambda x: bool((x > 0).any()), True),
    (lambda x: torch.nonzero(x > 0), True),
    (lambda x: x[x > 0], True),
    (lambda x: x.masked_select(x > 0), True),
    (lambda x: x.index_put((x > 0,), torch.tensor(0.0)), True),
    (lambda x: x[torch.tensor([0, 2])], False),
    (lambda x: torch.where(x > 0, x, 0.0), False),
    (lambda x: x.clamp(0, 1).sum(), False),
])
def test_probe_itself(operation, syncs):
    with SyncProbe() as probe:
        operation(torch.randn(4))
    assert bool(probe.syncs) == syncs, probe.syncs
