"""Diagnostics scalars: present, detached, loss-neutral, and they move the right way."""
import pytest
import torch

import tao_sparse4d_fix
from tao_sparse4d_fix.runtime import diagnostics, floor, modes
from tao_sparse4d_fix import switches
from conftest import tao_version_tuple
from test_nan_guard import criterion_call

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)


def total_loss(losses):
    return sum(value for key, value in losses.items() if "loss" in key)


@pytest.mark.parametrize("mode", ["original", "corrected", "unmatched_only"])
@pytest.mark.parametrize("switch_off", [(switches.DISABLE, "diagnostics"), (switches.DISABLE, " nan_guard, Diagnostics "),
                                        (switches.DIAGNOSTICS, "0")])
def test_scalars_appear_without_gradient_and_leave_the_loss_unchanged(criterion, experiment_config, mode, switch_off,
                                                                      monkeypatch):
    tao_sparse4d_fix.install()
    try:
        with_diag, _, _ = criterion_call(criterion, experiment_config, 0.5, mode)
    finally:
        tao_sparse4d_fix.uninstall()
    monkeypatch.setenv(*switch_off)
    tao_sparse4d_fix.install()
    try:
        without_diag, _, _ = criterion_call(criterion, experiment_config, 0.5, mode)
    finally:
        tao_sparse4d_fix.uninstall()
    for key in diagnostics.KEYS:
        assert key in with_diag and key not in without_diag
        assert "loss" not in key
        assert not with_diag[key].requires_grad
    assert torch.equal(total_loss(with_diag), total_loss(without_diag))
    # main queries carry labels 0..C only: stock TAO < 7.3 keeps the one matched query per sample
    stock_drops_unmatched = tao_version_tuple() < (7, 3)
    expected_fraction = 2 / 48 if mode == "original" and stock_drops_unmatched else 1.0
    assert with_diag[diagnostics.KEYS[3]].item() == pytest.approx(expected_fraction)


class Loss:
    """What the diagnostics read of TAO's FocalLoss."""
    alpha, gamma, loss_weight = 0.25, 2.0, 2.0


def call(logits, target):
    return diagnostics.LossCall(logits, target, avg_factor=2.0, value=torch.tensor(1.0))


@pytest.mark.once
def test_scalars_on_a_constructed_input():
    num_classes, batch = 3, 2
    target = torch.tensor([0, 3, 3, 3, 1, 3, 3, 3])  # 6 unmatched rows (label C = 3)
    low = torch.full((8, num_classes), -6.0)
    high = low.clone()
    high[target == 3, 2] = 2.0  # unmatched queries now score sigmoid(2) = 0.88
    common = dict(loss_module=Loss, batch_size=batch, score_threshold=0.05, background=frozenset())  # TAO < 7.3 stock rows
    quiet, inflated = diagnostics.scalars(call(low, target), **common), diagnostics.scalars(call(high, target), **common)
    mean, p95, above, fraction, over_floor = diagnostics.KEYS
    assert quiet[mean] == pytest.approx(torch.sigmoid(torch.tensor(-6.0)).item())
    assert inflated[mean] == pytest.approx(torch.sigmoid(torch.tensor(2.0)).item())
    assert inflated[p95] > quiet[p95]
    assert quiet[above] == 0 and inflated[above] == 3.0  # 6 unmatched above 0.05 over 2 samples
    assert fraction in quiet and quiet[fraction] == pytest.approx(2 / 8)  # stock: only matched rows
    corrected = modes.BACKGROUND_ROWS["corrected"]
    on_all = diagnostics.scalars(call(low, target), **dict(common, background=corrected))
    assert on_all[fraction] == 1.0
    expected_floor = floor.constant_score_floor(target, num_classes, background=corrected, alpha=0.25, gamma=2.0,
                                                avg_factor=2.0, loss_weight=2.0)
    assert on_all[over_floor].item() == pytest.approx(1.0 / expected_floor.item(), rel=1e-6)
    unmatched_only = diagnostics.scalars(call(low, torch.tensor([0, 3, -3, -1, 1, 3, 3, 3])),
                                         **dict(common, background=modes.BACKGROUND_ROWS["unmatched_only"]))
    assert unmatched_only[fraction] == pytest.approx(6 / 8)


@pytest.mark.once
@pytest.mark.parametrize("mode", ["original", "corrected", "unmatched_only"])
def test_scalars_never_sync_at_real_shapes(mode):
    from test_host_sync import NUM_CLASSES, SyncProbe, real_step_calls

    pred, target, avg_factor = real_step_calls()[0]
    background = modes.background_rows(mode, frozenset())
    with SyncProbe() as probe:
        values = diagnostics.scalars(diagnostics.LossCall(pred, target, avg_factor, pred.sum()), loss_module=Loss,
                                     batch_size=6, score_threshold=0.05, background=background)
    assert probe.syncs == [], probe.syncs
    assert set(values) == set(diagnostics.KEYS) and pred.shape[1] == NUM_CLASSES
