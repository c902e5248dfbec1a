"""Drop-in proof: TAO's own ``sparse4d train -e spec.yaml`` on this CPU, with and
without the plugin (harness/ supplies the test-only CPU support)."""
import math
import os
import subprocess

import pytest

from harness import read_logs, synthetic_data, testenv, tiny
from tao_sparse4d_fix import __version__

TAO = "6.25.11"
KEY = "model.head.loss.cls.background_supervision"
BANNER = f"tao-sparse4d-fix {__version__} on nvidia-tao-pytorch"  # the status table's first line (global rank 0)


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.e2e)


class Run:
    """One finished ``sparse4d train`` process and what it logged."""

    def __init__(self, completed, results):
        self.returncode = completed.returncode
        self.output = completed.stdout
        self.results = results

    def scalars(self, prefix):
        return read_logs.read_scalars(self.results, prefix)

    def cls_losses(self):
        """Every logged loss_cls_* value (main and denoising, all layers, all steps)."""
        return [value for points in self.scalars("loss_cls").values() for _, value in points]

    def all_losses_finite(self):
        return all(math.isfinite(v) for points in self.scalars("loss").values() for _, v in points)


@pytest.fixture(scope="session")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    # "empty": no object in any frame, so every query is unmatched and the stock
    # classification loss is exactly 0 while a supervised one cannot be
    synthetic_data.generate(root / "empty", seed=0, scenes=2, frames=3, empty_scenes=2)
    synthetic_data.generate(root / "objects", seed=1, scenes=2, frames=3)
    return {"empty": root / "empty", "objects": root / "objects"}


@pytest.fixture
def train(tmp_path, datasets):
    """Run TAO's console entrypoint; ``switch`` None leaves TAO_SPARSE4D_FIX unset."""

    def run(data="empty", switch="1", overrides=(), spec_values=None, num_gpus=1, steps=2, extra_env=None):
        results = tmp_path / f"results-{len(list(tmp_path.iterdir()))}"
        spec = tiny.write_spec(tmp_path / f"{results.name}.yaml", datasets[data], results, num_gpus=num_gpus, steps=steps)
        if spec_values:
            from omegaconf import OmegaConf

            cfg = OmegaConf.load(spec)
            for key, value in spec_values.items():
                OmegaConf.update(cfg, key, value)
            OmegaConf.save(cfg, spec)
        env = testenv.tao_env(TAO)
        env.pop("TAO_SPARSE4D_FIX", None)
        if switch is not None:
            env["TAO_SPARSE4D_FIX"] = switch
        extra_env = dict(extra_env or {})
        if "PYTHONPATH_APPEND" in extra_env:
            env["PYTHONPATH"] += os.pathsep + extra_env.pop("PYTHONPATH_APPEND")
        env.update(extra_env)
        completed = subprocess.run(
            ["sparse4d", "train", "-e", str(spec), *overrides], env=env, cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
        )
        return Run(completed, results)

    return run
