"""``unmatched_only`` equals NVIDIA's own fix: TAO 7.3.0's stock FocalLoss.

7.3.0 is loaded in a child interpreter (one process holds one TAO release), on
the same inputs, whatever TAO release this test session runs against.
"""
import subprocess
import sys

import pytest
import torch

from conftest import set_mode
from harness import testenv

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)

CHILD = """
import sys, torch
import nvidia_tao_pytorch.cv.sparse4d.model.criterion as criterion
assert not hasattr(criterion.FocalLoss.forward, "__wrapped__")
data = torch.load(sys.argv[1])
loss = criterion.FocalLoss(gamma=2.0, alpha=0.25, loss_weight=2.0)
pred = data["pred"].clone().requires_grad_()
value = loss(pred, data["target"], avg_factor=data["avg_factor"])
value.backward()
torch.save({"value": value.detach(), "grad": pred.grad}, sys.argv[2])
"""


@pytest.mark.parametrize("avg_factor", [None, 7.0])
def test_unmatched_only_matches_tao_730(tmp_path, patched, criterion, avg_factor):
    generator = torch.Generator().manual_seed(3)
    pred = torch.randn(64, 10, generator=generator)
    target = torch.randint(-3, 11, (64,), generator=generator)  # 0..9, C=10, -3, -2, -1
    torch.save({"pred": pred, "target": target, "avg_factor": avg_factor}, tmp_path / "in.pt")
    env = testenv.tao_env("7.3.0")
    env["TAO_SPARSE4D_FIX"] = "0"
    subprocess.run([sys.executable, "-c", CHILD, tmp_path / "in.pt", tmp_path / "out.pt"],
                   env=env, check=True, timeout=300)
    reference = torch.load(tmp_path / "out.pt")

    loss = criterion.FocalLoss(gamma=2.0, alpha=0.25, loss_weight=2.0)
    set_mode(loss, "unmatched_only")
    leaf = pred.clone().requires_grad_()
    value = loss(leaf, target, avg_factor=avg_factor)
    value.backward()
    assert torch.allclose(value, reference["value"], rtol=1e-6, atol=1e-7)
    assert torch.allclose(leaf.grad, reference["grad"], rtol=1e-5, atol=1e-8)
    assert reference["grad"][target < 0].abs().sum() == 0  # 7.3.0 still ignores negative labels
