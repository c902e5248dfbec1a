"""SetCriterion hands the spec's background_supervision to its FocalLoss."""
import pytest
from omegaconf import OmegaConf

from tao_sparse4d_fix.runtime import modes
from conftest import mode_of

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)


def build(criterion, experiment_config, value=None):
    cfg = OmegaConf.structured(experiment_config)
    if value is not None:
        cfg.model.head.loss.cls.background_supervision = value
    return criterion.SetCriterion(cfg.model, None)


def test_default_is_corrected(patched, criterion, experiment_config):
    built = build(criterion, experiment_config)
    assert mode_of(built.loss_cls) == "corrected"
    assert mode_of(built) == "corrected"  # one state, shared by the criterion and its loss


@pytest.mark.parametrize("value", ["original", "corrected", "unmatched_only", " Original "])
def test_spec_value_reaches_the_loss(patched, criterion, experiment_config, value):
    built = build(criterion, experiment_config, value)
    assert mode_of(built.loss_cls) == value.strip().lower()


def test_invalid_value_names_value_and_choices(patched, criterion, experiment_config):
    with pytest.raises(modes.InvalidMode) as raised:
        build(criterion, experiment_config, "everything")
    message = str(raised.value)
    assert "'everything'" in message
    assert "model.head.loss.cls.background_supervision" in message
    for mode in modes.MODES:
        assert mode in message


def test_focal_loss_built_without_config_uses_default(patched, criterion):
    loss = criterion.FocalLoss(gamma=2.0, alpha=0.25, loss_weight=2.0)
    assert mode_of(loss) is None  # the default is used at call time
    import torch

    pred = torch.zeros(2, 3, requires_grad=True)
    target = torch.tensor([3, 3])  # two unmatched queries: background only
    value = loss(pred, target, avg_factor=1.0)
    # corrected: each background element costs (1 - alpha) * 0.5**2 * log 2
    expected = 2.0 * 6 * 0.75 * 0.25 * torch.log(torch.tensor(2.0))
    assert torch.allclose(value, expected)


def test_stock_criterion_has_no_mode_attribute(stock, criterion, experiment_config):
    cfg = OmegaConf.structured(experiment_config)
    built = criterion.SetCriterion(cfg.model, None)
    assert mode_of(built.loss_cls) is None
