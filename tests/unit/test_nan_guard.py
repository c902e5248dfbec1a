"""The yawness-loss NaN guard, in a real SetCriterion call.

When no matched query passes ``cls_threshold_to_reg`` (default 0.05), stock TAO
averages an empty tensor in its yawness loss and the step's loss is NaN.
"""
import math

import pytest
import torch
from omegaconf import OmegaConf

from conftest import tao_version_tuple

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)

LAYERS, BATCH, ANCHORS, CLASSES = 2, 2, 24, 3


def criterion_call(criterion, experiment_config, cls_logit, mode=None):
    cfg = OmegaConf.structured(experiment_config)
    if mode is not None:
        cfg.model.head.loss.cls.background_supervision = mode
    cfg.model.head.use_reid_sampling = False
    cfg.model.use_temporal_align = False
    assert cfg.model.head.cls_threshold_to_reg == 0.05  # TAO's default
    built = criterion.SetCriterion(cfg.model, None)

    generator = torch.Generator().manual_seed(0)
    gt_boxes = [torch.tensor([[2.0, 1.0, 0.5, 1.8, 4.2, 1.5, 0.3, 1.0, 0.0, 0.0]]) for _ in range(BATCH)]
    encoded = built.sampler.encode_reg_target(gt_boxes, "cpu")
    prediction = torch.randn(BATCH, ANCHORS, 11, generator=generator)
    for sample in range(BATCH):
        prediction[sample, 0] = encoded[sample][0]  # one query sits on the object
    quality = torch.randn(BATCH, ANCHORS, 2, generator=generator)
    classification = torch.full((BATCH, ANCHORS, CLASSES), cls_logit)
    leaves = [classification.clone().requires_grad_() for _ in range(LAYERS)]
    quality_leaves = [quality.clone().requires_grad_() for _ in range(LAYERS)]
    model_outs = {
        "classification": leaves,
        "prediction": [prediction.clone().requires_grad_() for _ in range(LAYERS)],
        "quality": quality_leaves,
    }
    data = {
        "gt_labels_3d": [torch.tensor([1]) for _ in range(BATCH)],
        "gt_bboxes_3d": gt_boxes,
        "instance_id": [torch.tensor([7]) for _ in range(BATCH)],
        "asset_id": [torch.tensor([3]) for _ in range(BATCH)],
    }
    losses = built((model_outs, None), data)
    return losses, leaves, quality_leaves


def test_stock_criterion_gives_nan_when_no_match_passes_the_threshold(stock, criterion, experiment_config):
    losses, _, _ = criterion_call(criterion, experiment_config, cls_logit=-6.0)  # scores 0.0025 < 0.05
    total = sum(v for k, v in losses.items() if "loss" in k)
    if tao_version_tuple() >= (7, 3):  # 7.3.0 returns early from SparseBox3DLoss on empty input
        assert losses["loss_yns_0"].item() == 0.0 and torch.isfinite(total)
    else:
        assert math.isnan(losses["loss_yns_0"].item())
        assert math.isnan(total.item())


def test_patched_criterion_stays_finite_and_connected(patched, criterion, experiment_config):
    losses, leaves, quality_leaves = criterion_call(criterion, experiment_config, cls_logit=-6.0)
    total = sum(v for k, v in losses.items() if "loss" in k)
    assert torch.isfinite(total)
    assert losses["loss_yns_0"].item() == 0.0
    assert losses["loss_yns_0"].requires_grad  # a zero that keeps the graph connected
    total.backward()
    assert all(torch.isfinite(leaf.grad).all() for leaf in leaves + quality_leaves)
    assert leaves[0].grad.abs().sum() > 0  # background supervision still pushes scores


@pytest.mark.parametrize("cls_logit", [0.0, 2.0])
def test_non_empty_yawness_loss_is_bit_identical(criterion, experiment_config, cls_logit):
    import tao_sparse4d_fix

    tao_sparse4d_fix.uninstall()
    stock_losses, _, _ = criterion_call(criterion, experiment_config, cls_logit)
    tao_sparse4d_fix.install()
    try:
        patched_losses, _, _ = criterion_call(criterion, experiment_config, cls_logit)
    finally:
        tao_sparse4d_fix.uninstall()
    yns_keys = [key for key in stock_losses if key.startswith("loss_yns")]
    assert yns_keys
    for key in yns_keys:
        assert torch.isfinite(stock_losses[key])
        assert torch.equal(stock_losses[key], patched_losses[key]), key
