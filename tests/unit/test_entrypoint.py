"""entrypoint.sh: fix switched on unless set, doctor run against the spec, exec."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)

ENTRYPOINT = Path(__file__).resolve().parents[2] / "entrypoint.sh"
SHOW = [sys.executable, "-c", "import os; print('CHILD TAO_SPARSE4D_FIX=' + os.environ['TAO_SPARSE4D_FIX'])"]


def run(*command, spec_args=(), **env):
    full_env = {k: v for k, v in os.environ.items() if k != "TAO_SPARSE4D_FIX"}
    full_env.update(env, TAO_SPARSE4D_FIX_PYTHON=sys.executable)
    return subprocess.run(
        ["bash", str(ENTRYPOINT), *command, *spec_args], env=full_env, capture_output=True, text=True, timeout=300
    )


def test_switches_fix_on_runs_doctor_and_execs():
    result = run(*SHOW)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TAO_SPARSE4D_FIX='1': on" in result.stdout
    assert result.stdout.rstrip().endswith("CHILD TAO_SPARSE4D_FIX=1")


def test_respects_callers_choice():
    result = run(*SHOW, TAO_SPARSE4D_FIX="0")
    assert result.returncode == 0
    assert result.stdout.rstrip().endswith("CHILD TAO_SPARSE4D_FIX=0")


def test_invalid_spec_value_stops_before_the_command(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("model:\n  head:\n    loss:\n      cls:\n        background_supervision: most\n")
    result = run(*SHOW, spec_args=("-e", str(spec)))
    assert result.returncode != 0
    assert "'most' is not a valid value" in result.stdout
    assert "CHILD" not in result.stdout
