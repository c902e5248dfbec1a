"""Another TAO PyTorch network in a process with TAO_SPARSE4D_FIX=1: loaded as stock, computed as stock.

FTMS's ``IMAGE_TAO_PYTORCH`` serves every PyTorch network, and the derived image
sets ``TAO_SPARSE4D_FIX=1`` (Dockerfile), so every other network's job runs with
the switch on. A child process of this TAO release builds RT-DETR's model and
its loss the way ``RTDETRPlModel._build_model``/``_build_criterion`` do
(``build_model``, deformable_detr's ``HungarianMatcher``, rtdetr's
``SetCriterion``; the Lightning module itself imports ``fairscale``, which the
harness lacks), then computes the loss on seeded inputs, once with the switch
on and once without it.
"""
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)

STARTUP_MODULES = ["tao_sparse4d_fix", "tao_sparse4d_fix._bootstrap", "tao_sparse4d_fix._version",
                   "tao_sparse4d_fix.switches"]

PROBE = r"""
import importlib, json, sys

def plugin_modules():
    return sorted(m for m in sys.modules if m == "tao_sparse4d_fix" or m.startswith("tao_sparse4d_fix."))

def is_proxy(value):  # wrapt's proxies (the plugin's patches are FunctionWrapper), C or pure-Python
    return any(base.__name__ == "ObjectProxy" for base in type(value).__mro__)

def finders():
    return [type(f).__module__ + "." + type(f).__qualname__ for f in sys.meta_path]

before = {"modules": plugin_modules(), "finders": finders()}
import torch
from omegaconf import OmegaConf
for base in ("nvidia_tao_pytorch.config.rtdetr", "nvidia_tao_core.config.rtdetr"):
    try:
        config = importlib.import_module(base + ".default_config")
        break
    except ModuleNotFoundError:
        continue
spec = OmegaConf.structured(config.ExperimentConfig)
spec.model.backbone = "resnet_18"
ops = importlib.import_module("nvidia_tao_pytorch.cv.deformable_detr.model.ops.modules")
ops.load_ops = lambda ops_dir, lib_name: None  # its compiled CUDA op is not loadable here; only built, never run
from nvidia_tao_pytorch.cv.rtdetr.model.build_nn_model import build_model
from nvidia_tao_pytorch.cv.deformable_detr.model.matcher import HungarianMatcher
from nvidia_tao_pytorch.cv.rtdetr.model.criterion import SetCriterion
m = spec.model
torch.manual_seed(0)
model = build_model(experiment_config=spec)
matcher = HungarianMatcher(cost_class=m.class_cost, cost_bbox=m.bbox_cost, cost_giou=m.giou_cost)
criterion = SetCriterion(matcher, weight_dict={"loss_vfl": m.vfl_loss_coef, "loss_bbox": m.bbox_loss_coef,
                                               "loss_giou": m.giou_loss_coef},
                         losses=m.loss_types, alpha=m.alpha, gamma=m.gamma, num_classes=spec.dataset.num_classes)
generator = torch.Generator().manual_seed(1)
queries, classes = 50, spec.dataset.num_classes
outputs = {"pred_logits": torch.randn(2, queries, classes, generator=generator),
           "pred_boxes": torch.rand(2, queries, 4, generator=generator) * 0.5 + 0.25}
targets = [{"labels": torch.tensor([1, 3]), "boxes": torch.tensor([[0.5, 0.5, 0.2, 0.3], [0.3, 0.6, 0.1, 0.1]])},
           {"labels": torch.tensor([0]), "boxes": torch.tensor([[0.4, 0.4, 0.3, 0.2]])}]
losses = criterion(outputs, targets)
wrapped = sorted(f"{module}.{cls}.{attr}" for module in list(sys.modules) if module.startswith("nvidia_tao_pytorch.cv.")
                 for cls, obj in vars(sys.modules[module]).items() if isinstance(obj, type)
                 for attr, value in vars(obj).items() if is_proxy(value))
rows = []
if "tao_sparse4d_fix.runtime.status" in sys.modules:
    rows = [[row.target, row.applied, row.why] for row in sys.modules["tao_sparse4d_fix.runtime.status"].rows()]
print("PROBE" + json.dumps({
    "before": before, "after": {"modules": plugin_modules(), "finders": finders()},
    "model": type(model).__name__, "criterion": type(criterion).__module__ + "." + type(criterion).__name__,
    "tao_sparse4d": sorted(m for m in sys.modules if m.startswith("nvidia_tao") and "sparse4d" in m),
    "wrapped": wrapped, "status_rows": rows,
    "losses": {k: v.double().item().hex() for k, v in sorted(losses.items())}}))
"""


def probe(switch):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAO_SPARSE4D_FIX")}
    if switch is not None:
        env["TAO_SPARSE4D_FIX"] = switch
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    [line] = [line for line in result.stdout.splitlines() if line.startswith("PROBE")]
    return json.loads(line[len("PROBE"):])


@pytest.fixture(scope="module")
def switched_on():
    return probe("1")


@pytest.fixture(scope="module")
def switched_off():
    return probe(None)


def test_rtdetr_is_built_and_its_loss_computed_exactly_as_stock(switched_on, switched_off):
    assert switched_on["model"] == "RTDETRModel"
    assert switched_on["criterion"] == "nvidia_tao_pytorch.cv.rtdetr.model.criterion.SetCriterion"
    assert sorted(switched_on["losses"]) == ["loss_bbox", "loss_giou", "loss_vfl"]
    assert switched_on["losses"] == switched_off["losses"]  # bit for bit (float.hex)


def test_it_patches_nothing(switched_on):
    assert switched_on["tao_sparse4d"] == []  # no Sparse4D module of TAO's is imported, so none is patched
    assert switched_on["wrapped"] == []  # no attribute of any loaded TAO cv class is a wrapt wrapper
    assert [row for row in switched_on["status_rows"] if row[1]] == []  # no patch row says applied


def test_the_switch_leaves_only_the_sentinel_before_tao(switched_on, switched_off):
    assert switched_on["before"]["modules"] == STARTUP_MODULES
    assert sum(f.endswith("._FirstTaoImport") for f in switched_on["before"]["finders"]) == 1
    assert switched_off["after"]["modules"] == []


def test_building_another_network_loads_no_runtime_module(switched_on):
    assert switched_on["after"]["modules"] == STARTUP_MODULES
