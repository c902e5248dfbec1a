"""What the order suite shares with its child interpreters: where each patch's target lives,
a snapshot of TAO's own objects there, and the loss each mode must compute.

Used by ``test_patch_orders.py`` in the test process and by ``patch_orders_child.py``
in a fresh interpreter (TAO imported before or after ``install()``).
"""
import importlib
import inspect

import torch

from test_loss_math import ALPHA, GAMMA, LOSS_WEIGHT, mixed_batch, reference_focal_loss
from conftest import schema_module_name
from tao_sparse4d_fix.runtime import criterion_state, modes
from tao_sparse4d_fix.runtime.patches import ALL

CRITERION = "nvidia_tao_pytorch.cv.sparse4d.model.criterion"


def modules_of(patch):
    """Every module of this TAO that holds ``patch``'s target, oldest layout first.

    TAO 7.x installs beside nvidia-tao-core, so its schema class exists in both
    layouts; the plugin patches every one that is imported.
    """
    found = []
    for name in patch.modules:
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            continue
    assert found, f"none of {patch.modules} imports"
    return found


def module_of(patch):
    """The module this TAO's own code uses: the newest layout that imports."""
    return modules_of(patch)[-1]


def targets():
    """[(patch, module)] for every patch of ``ALL`` and every module of this TAO that holds its target."""
    return [(patch, module) for patch in ALL for module in modules_of(patch)]


def owner_of(patch, module):
    """The class whose namespace the patch changes: the target class itself, or the method's class."""
    parts = patch.qualname.split(".")
    target = module
    for part in parts:
        target = getattr(target, part)
    if inspect.isclass(target):
        return target
    owner = module
    for part in parts[:-1]:
        owner = getattr(owner, part)
    return owner


def snapshot(owner):
    """Every name in the class's namespace and the object it holds, plus its annotations' contents."""
    return dict(vars(owner)), dict(vars(owner).get("__annotations__", {}))


def differences(owner, taken):
    """Names whose object is not the one in ``taken`` (empty: TAO's own objects, all of them)."""
    names, annotations = taken
    now = dict(vars(owner))
    changed = sorted(set(now) ^ set(names))
    changed += sorted(name for name in set(now) & set(names) if now[name] is not names[name])
    if dict(now.get("__annotations__", {})) != annotations:
        changed.append("__annotations__ (contents)")
    return changed


def owners():
    """{target in its module: the class it changes}, for every patch and module of ``targets()``."""
    return {patch.target(module.__name__): owner_of(patch, module) for patch, module in targets()}


def applied():
    """{target in its module: whether its patch is applied there}."""
    return {patch.target(module.__name__): patch.is_applied(module) for patch, module in targets()}


def build_criterion(mode=None):
    """TAO's SetCriterion from its own default ExperimentConfig, with ``background_supervision`` set if given."""
    from omegaconf import OmegaConf

    config = importlib.import_module(schema_module_name() + ".default_config").ExperimentConfig
    cfg = OmegaConf.structured(config)
    if mode is not None:
        cfg.model.head.loss.cls.background_supervision = mode
    return importlib.import_module(CRITERION).SetCriterion(cfg.model, None)


def mode_values():
    """{mode: (mode the criterion's FocalLoss got, value it computes, the value it must compute)}.

    Each mode goes the way training takes it: the spec key through TAO's schema,
    SetCriterion's __init__, then its FocalLoss on one batch with every kind of row.
    """
    pred, target = mixed_batch(rows=24, dtype=torch.float32)
    values = {}
    for mode in modes.MODES:
        loss = build_criterion(mode).loss_cls
        assert (loss.alpha, loss.gamma) == (ALPHA, GAMMA)  # TAO's defaults, which the reference assumes
        state = criterion_state.of(loss)
        if mode == modes.ORIGINAL:  # TAO's own forward, under the wrapper
            expected = vars(type(loss))["forward"].__wrapped__(loss, pred, target, avg_factor=6.0)
        else:
            expected = reference_focal_loss(pred, target, mode, avg_factor=6.0) / LOSS_WEIGHT * loss.loss_weight
        values[mode] = (state and state.mode, float(loss(pred, target, avg_factor=6.0)), float(expected))
    return values


def stock_state():
    """What stock TAO does: the spec key refused by its schema, and its FocalLoss's value on that batch."""
    try:
        build_criterion(modes.CORRECTED)
        refused = ""
    except Exception as error:  # omegaconf's ConfigAttributeError / ValidationError
        refused = type(error).__name__
    pred, target = mixed_batch(rows=24, dtype=torch.float32)
    loss = build_criterion().loss_cls
    return refused, criterion_state.of(loss), float(loss(pred, target, avg_factor=6.0))
