"""The .pth activates the fix in a child started the way TAO's launcher starts
train.py (``python <script>`` through a shell, environment inherited)."""
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import tao_version_tuple

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)

LOG2 = 0.693147

PROBE = textwrap.dedent('''
    import sys
    assert "torch" not in sys.modules, "torch imported at start-up"
    import nvidia_tao_pytorch.cv.sparse4d.model.criterion as criterion
    import torch
    loss = criterion.FocalLoss(gamma=2.0, alpha=0.25, loss_weight=1.0)
    pred = torch.zeros(4, 3, requires_grad=True)
    value = loss(pred, torch.tensor([3, -3, -1, 3]), avg_factor=1.0)  # no foreground at all
    if value.requires_grad:  # stock returns a constant: the graph is cut
        value.backward()
    grad = 0.0 if pred.grad is None else pred.grad.abs().sum().item()
    print("LOSS=%.6f GRAD=%.6f CONNECTED=%s WRAPPED=%s" % (
        value.item(), grad, value.requires_grad, hasattr(criterion.FocalLoss.forward, "__wrapped__")))
''')


def launch(tmp_path, switch):
    script = tmp_path / "train.py"
    script.write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if k != "TAO_SPARSE4D_FIX"}
    if switch is not None:
        env["TAO_SPARSE4D_FIX"] = switch
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return subprocess.run(f"python {script}", shell=True, env=env, capture_output=True, text=True, timeout=300)


def fields(result):
    assert result.returncode == 0, result.stdout + result.stderr
    line = [line for line in result.stdout.splitlines() if line.startswith("LOSS=")][-1]
    return dict(part.split("=") for part in line.split())


@pytest.mark.parametrize("switch", ["1", "true", "ON"])
def test_enabled_child_supervises_background(tmp_path, switch):
    values = fields(launch(tmp_path, switch))
    assert values["WRAPPED"] == "True"
    # 12 background elements, each (1 - alpha) * 0.5**2 * log 2
    assert float(values["LOSS"]) == pytest.approx(12 * 0.75 * 0.25 * LOG2, rel=1e-5)
    assert float(values["GRAD"]) > 0 and values["CONNECTED"] == "True"


@pytest.mark.parametrize("switch", [None, "", "0", "false", "off"])
def test_disabled_child_is_stock(tmp_path, switch):
    values = fields(launch(tmp_path, switch))
    assert values["WRAPPED"] == "False"
    if tao_version_tuple() >= (7, 3):  # NVIDIA's partial fix: the two label-C rows count, -3/-1 do not
        assert float(values["LOSS"]) == pytest.approx(6 * 0.75 * 0.25 * LOG2, rel=1e-5)
        assert float(values["GRAD"]) > 0
    else:  # every row dropped: no loss and a cut graph
        assert float(values["LOSS"]) == 0.0 and float(values["GRAD"]) == 0.0
        assert values["CONNECTED"] == "False"


@pytest.mark.parametrize("switch", ["yes", "2", "corrected"])
def test_invalid_switch_stops_tao_with_a_clear_message(tmp_path, switch):
    result = launch(tmp_path, switch)
    assert result.returncode != 0
    assert "LOSS=" not in result.stdout
    assert f"TAO_SPARSE4D_FIX={switch!r} is not a valid value" in result.stderr
    assert "1, true or on" in result.stderr and "0, false, off or unset" in result.stderr
