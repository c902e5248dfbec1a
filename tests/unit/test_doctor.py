"""``python -m tao_sparse4d_fix doctor`` as a user runs it inside the container."""
import os
import subprocess
import sys

import pytest

from tao_sparse4d_fix.runtime import versions
from tao_sparse4d_fix.runtime.patches import COMPONENTS

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)

SPEC = "model:\n  head:\n    loss:\n      cls:\n        background_supervision: {value}\n"


def doctor(*args, switch="1"):
    env = {k: v for k, v in os.environ.items() if k != "TAO_SPARSE4D_FIX"}
    if switch is not None:
        env["TAO_SPARSE4D_FIX"] = switch
    return subprocess.run([sys.executable, "-m", "tao_sparse4d_fix", "doctor", *args],
                          env=env, capture_output=True, text=True, timeout=300)


def test_ready_with_every_target_recognised(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(value="original"))
    result = doctor("--spec", str(spec))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "TAO_SPARSE4D_FIX='1': on" in out
    assert f"nvidia-tao-pytorch: {versions.installed('nvidia-tao-pytorch')}" in out
    assert f"  {versions.support_line()}" in out.splitlines()  # the release line, from the one table
    assert "tao_sparse4d_fix.pth" in out  # the start-up hook is installed
    assert out.count("[ok] ") >= 6 and "UNKNOWN" not in out  # 6 targets, 7 where both schemas exist
    assert f"background_supervision for {spec}: original (from spec)" in out
    assert out.rstrip().endswith("ready")


@pytest.mark.once  # the plugin's own reading of the switch, spec and variables
def test_override_wins_and_default_is_corrected(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(value="original"))
    assert "unmatched_only (from override)" in doctor(
        "--spec", str(spec), "model.head.loss.cls.background_supervision=unmatched_only").stdout
    assert "a spec without the key: corrected (from default)" in doctor().stdout


@pytest.mark.once  # the plugin's own reading of the switch, spec and variables
def test_invalid_spec_value_is_not_ready(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(value="always"))
    result = doctor("--spec", str(spec))
    assert result.returncode == 1
    assert "'always' is not a valid value; valid values are: original, corrected, unmatched_only" in result.stdout


@pytest.mark.once  # the plugin's own reading of the switch, spec and variables
def test_invalid_switch_is_not_ready():
    result = doctor(switch="maybe")
    assert result.returncode == 1
    assert "TAO_SPARSE4D_FIX='maybe' is not valid" in result.stdout


def test_disabled_is_reported_as_inert(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(value="corrected"))
    result = doctor("--spec", str(spec), switch=None)
    assert result.returncode == 0
    assert "the plugin is inert here" in result.stdout
    assert "without the plugin enabled, TAO's schema rejects this key" in result.stdout


def doctor_with(env_extra, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAO_SPARSE4D_FIX")}
    env.update(TAO_SPARSE4D_FIX="1", **env_extra)
    return subprocess.run([sys.executable, "-m", "tao_sparse4d_fix", "doctor", *args],
                          env=env, capture_output=True, text=True, timeout=300)


def test_roles_and_switched_off_components_are_shown():
    result = doctor_with({"TAO_SPARSE4D_FIX_DISABLE": "decoder,nan_guard"})
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "side components switched off (TAO_SPARSE4D_FIX_DISABLE): decoder, nan_guard" in out
    assert f"(names: {', '.join(COMPONENTS)})" in out
    assert "[ok] core nvidia_tao_pytorch.cv.sparse4d.model.criterion.FocalLoss.forward: stock code of TAO" in out
    assert "[ok] side nvidia_tao_pytorch.cv.sparse4d.model.criterion.SetCriterion.forward" in out
    assert ("[off] side nvidia_tao_pytorch.cv.sparse4d.model.detection3d.decoder.SparseBox3DDecoder.decode: "
            "switched off by TAO_SPARSE4D_FIX_DISABLE") in out
    assert "[off] side nvidia_tao_pytorch.cv.sparse4d.model.criterion.GaussianFocalLoss.forward" in out


@pytest.mark.once  # the plugin's own reading of the switch, spec and variables
def test_unknown_component_name_is_not_ready():
    result = doctor_with({"TAO_SPARSE4D_FIX_DISABLE": "decoder,everything"})
    assert result.returncode == 1
    assert "PROBLEM: tao-sparse4d-fix: TAO_SPARSE4D_FIX_DISABLE='decoder,everything' names 'everything'" in result.stdout
    assert f"valid names are: {', '.join(COMPONENTS)}" in result.stdout


@pytest.mark.once  # the plugin's own reading of the switch, spec and variables
def test_rank_timeout_is_shown_and_a_bad_one_is_not_ready(monkeypatch):
    assert "TAO_SPARSE4D_FIX_RANK_TIMEOUT: 60 s" in doctor().stdout
    monkeypatch.setenv("TAO_SPARSE4D_FIX_RANK_TIMEOUT", "later")
    result = doctor()
    assert result.returncode == 1
    assert "PROBLEM: tao-sparse4d-fix: TAO_SPARSE4D_FIX_RANK_TIMEOUT='later' is not a valid value" in result.stdout
