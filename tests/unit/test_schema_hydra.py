"""The spec key through TAO's real schema and hydra_runner, in a child process.

The child is started as TAO's launcher starts train.py: a fresh interpreter
with the inherited environment, so the plugin loads from its .pth (or not).
"""
import os
import subprocess
import sys

import pytest

from conftest import schema_module_name

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)

KEY = "model.head.loss.cls.background_supervision"

TASK = """
from nvidia_tao_pytorch.core.hydra.hydra_runner import hydra_runner
from {schema}.default_config import ExperimentConfig


@hydra_runner(config_path=".", config_name="spec", schema=ExperimentConfig)
def main(cfg):
    import nvidia_tao_pytorch.cv.sparse4d.model.criterion as criterion

    built = criterion.SetCriterion(cfg.model, None)
    from tao_sparse4d_fix.runtime import criterion_state

    state = criterion_state.of(built.loss_cls)
    print("MODE=" + (state.mode if state else "stock"))


main()
"""


def run_task(tmp_path, spec_cls_lines=(), overrides=(), enabled=True):
    spec = "model:\n  head:\n    loss:\n      cls:\n        gamma: 2.0\n"
    spec += "".join(f"        {line}\n" for line in spec_cls_lines)
    (tmp_path / "spec.yaml").write_text(spec)
    (tmp_path / "task.py").write_text(TASK.format(schema=schema_module_name()))
    env = dict(os.environ, TAO_SPARSE4D_FIX="1" if enabled else "0")
    return subprocess.run(
        [sys.executable, "task.py", "--config-path", str(tmp_path), "--config-name", "spec", *overrides],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )


def mode_of(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if line.startswith("MODE=")][-1][5:]


def test_default_is_corrected_and_reported(tmp_path):
    result = run_task(tmp_path)
    assert mode_of(result) == "corrected"
    assert "background_supervision: corrected (from default)" in result.stdout


def test_spec_selects_original(tmp_path):
    result = run_task(tmp_path, ["background_supervision: original"])
    assert mode_of(result) == "original"
    assert "background_supervision: original (from spec)" in result.stdout


def test_override_selects_original_over_spec(tmp_path):
    result = run_task(tmp_path, ["background_supervision: unmatched_only"], [f"{KEY}=original"])
    assert mode_of(result) == "original"
    assert "background_supervision: original (from override)" in result.stdout


def test_unknown_keys_are_still_rejected(tmp_path):
    result = run_task(tmp_path, ["background_supervison: original"])  # sic: a typo
    assert result.returncode != 0
    assert "background_supervison" in result.stdout + result.stderr
    assert "MODE=" not in result.stdout


def test_invalid_value_stops_before_training_with_choices(tmp_path):
    result = run_task(tmp_path, [], [f"{KEY}=sometimes"])
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "'sometimes'" in output and "original, corrected, unmatched_only" in output
    assert "MODE=" not in result.stdout


def test_without_plugin_the_key_is_rejected(tmp_path):
    """Safety: a spec asking for the fix cannot run silently without it."""
    result = run_task(tmp_path, ["background_supervision: corrected"], enabled=False)
    assert result.returncode != 0
    assert "background_supervision" in result.stdout + result.stderr
    assert "MODE=" not in result.stdout


def test_without_plugin_stock_spec_runs_stock(tmp_path):
    result = run_task(tmp_path, enabled=False)
    assert mode_of(result) == "stock"
    assert "tao-sparse4d-fix" not in result.stdout
