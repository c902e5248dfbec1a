"""The constant-score floor (runtime.floor) against independent references, and the
``bgsup/cls_over_floor`` scalar in a real ``SetCriterion`` call."""
import math

import pytest
import torch

import tao_sparse4d_fix
from tao_sparse4d_fix.runtime import diagnostics, floor, modes
from conftest import tao_version_tuple
from test_host_sync import SyncProbe
from test_nan_guard import criterion_call

pytestmark = pytest.mark.once  # the plugin's own logic: runs on one TAO release (tests/unit/conftest.py)

# One main-query call of a small frame: 6 matched queries of 2 classes, 122 unmatched (label C = 2),
# plus denoising negatives (-3) and a lost track (-1), which only `corrected` supervises.
LABELS = {0: 4, 1: 2, 2: 122, -3: 5, -1: 1}
SETTINGS = dict(alpha=0.25, gamma=2.0, avg_factor=6.0, loss_weight=2.0)
STOCK = frozenset()  # what TAO 6.25-7.2's FocalLoss supervises outside [0, C)
BACKGROUND = {"original": STOCK, "unmatched_only": modes.BACKGROUND_ROWS["unmatched_only"],
              "corrected": modes.BACKGROUND_ROWS["corrected"]}


def target_of(labels):
    return torch.tensor([label for label, count in labels.items() for _ in range(count)])


def supervised(label, mode, classes=2):
    return 0 <= label < classes or (label == classes and mode != "original") or mode == "corrected"


def loss_at_constant(labels, mode, scores, classes=2, alpha=0.25, gamma=2.0, avg_factor=6.0, loss_weight=2.0):
    """The call's loss if every row scored ``scores[c]`` for class c: a direct sum over rows."""
    total = 0.0
    for label, count in labels.items():
        if not supervised(label, mode, classes):
            continue
        for c in range(classes):
            p = scores[c]
            if label == c:
                total += count * alpha * (1 - p) ** gamma * -math.log(p)
            else:
                total += count * (1 - alpha) * p ** gamma * -math.log(1 - p)
    return loss_weight * total / avg_factor


def best_constant(labels, mode, classes=2, **settings):
    """The lowest constant-score loss by golden-section search on each class's logit (the loss separates by class)."""
    best = []
    for c in range(classes):
        def per_class(logit, c=c):
            scores = [0.5] * classes
            scores[c] = 1 / (1 + math.exp(-logit))
            return loss_at_constant({k: v for k, v in labels.items()}, mode, scores, classes, **settings)
        low, high = -15.0, 15.0
        ratio = (math.sqrt(5) - 1) / 2
        for _ in range(200):
            a, b = high - ratio * (high - low), low + ratio * (high - low)
            low, high = (low, b) if per_class(a) < per_class(b) else (a, high)
        best.append(1 / (1 + math.exp(-(low + high) / 2)))
    return loss_at_constant(labels, mode, best, classes, **settings)


def test_floor_matches_the_closed_form_without_focusing():
    """gamma = 0 is weighted binary cross-entropy: the best constant is a n_pos / (a n_pos + (1 - a) n_neg)."""
    settings = dict(SETTINGS, gamma=0.0)
    a, rows = settings["alpha"], sum(LABELS.values())
    best = [a * n / (a * n + (1 - a) * (rows - n)) for n in (LABELS[0], LABELS[1])]
    expected = loss_at_constant(LABELS, "corrected", best, **settings)
    got = floor.constant_score_floor(target_of(LABELS), 2, background=BACKGROUND["corrected"], **settings)
    assert got.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("mode", ["original", "unmatched_only", "corrected"])
def test_floor_is_the_lowest_constant_score_loss(mode):
    got = floor.constant_score_floor(target_of(LABELS), 2, background=BACKGROUND[mode], **SETTINGS).item()
    assert got == pytest.approx(best_constant(LABELS, mode, **SETTINGS), rel=1e-5)


def test_floor_counts_the_rows_each_mode_supervises():
    """Without avg_factor the loss is a mean over supervised elements: rows x classes."""
    settings = dict(SETTINGS, avg_factor=None)
    for mode, rows in (("original", 6), ("unmatched_only", 128), ("corrected", 134)):
        got = floor.constant_score_floor(target_of(LABELS), 2, background=BACKGROUND[mode], **settings).item()
        expected = best_constant(LABELS, mode, **dict(SETTINGS, avg_factor=rows * 2))
        assert got == pytest.approx(expected, rel=1e-5), mode
    nothing = floor.constant_score_floor(torch.full((10,), 2), 2, background=STOCK, **SETTINGS)
    assert nothing.item() == 0.0
    assert math.isnan(floor.loss_over_floor(torch.tensor(0.0), nothing).item())


def test_floor_takes_avg_factor_as_a_tensor_and_never_syncs():
    target = target_of(LABELS)
    with SyncProbe() as probe:
        value = floor.constant_score_floor(target, 2, background=BACKGROUND["corrected"], alpha=0.25, gamma=2.0,
                                           avg_factor=torch.tensor(6.0), loss_weight=2.0)
        ratio = floor.loss_over_floor(torch.tensor(1.5), value)
    assert probe.syncs == []
    assert value.item() == pytest.approx(best_constant(LABELS, "corrected", **SETTINGS), rel=1e-5)
    assert ratio.item() == pytest.approx(1.5 / value.item(), rel=1e-6)


@pytest.mark.per_release
@pytest.mark.parametrize("mode", ["original", "corrected", "unmatched_only"])
def test_scalar_is_the_last_layers_loss_over_its_floor(criterion, experiment_config, mode):
    """In a real SetCriterion call: ``bgsup/cls_over_floor`` = loss_cls of the last layer / the floor of its labels."""
    tao_sparse4d_fix.install()
    try:
        losses, leaves, _ = criterion_call(criterion, experiment_config, 0.5, mode)
    finally:
        tao_sparse4d_fix.uninstall()
    key = diagnostics.PREFIX + "cls_over_floor"
    assert key in losses and "loss" not in key  # TAO sums every key holding "loss" into the total
    last = f"loss_cls_{len(leaves) - 1}"
    # criterion_call: every sample has one object matched to one query (label 1), the rest unmatched;
    # stock TAO < 7.3 supervises only that query; avg_factor is the number of positives.
    batch, queries, classes = leaves[0].shape
    labels = {1: batch, classes: batch * (queries - 1)}
    stock_mode = "original" if tao_version_tuple() < (7, 3) else "unmatched_only"
    reference_mode = stock_mode if mode == "original" else mode
    reference = best_constant(labels, reference_mode, classes=classes, alpha=0.25, gamma=2.0,
                              avg_factor=float(batch), loss_weight=2.0)
    floor_of_call = losses[last].item() / losses[key].item()
    # with one class present, stock TAO's floor is ~0 (a class with no positive is scored 0 at no cost)
    assert floor_of_call == pytest.approx(reference, rel=1e-4, abs=1e-9)
    if mode != "original":
        assert reference > 0.01
