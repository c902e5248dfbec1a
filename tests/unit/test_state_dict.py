"""The plugin adds no parameter or buffer: checkpoints move freely both ways."""
import json
import os
import subprocess
import sys

import pytest

from conftest import schema_module_name

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)

BUILD = """
import json, sys
from omegaconf import OmegaConf
from {schema}.default_config import ExperimentConfig
from nvidia_tao_pytorch.cv.sparse4d.model.sparse4d_pl_model import Sparse4DPlModel
cfg = OmegaConf.structured(ExperimentConfig)
cfg.model.use_grid_mask = False
model = Sparse4DPlModel(cfg)
import nvidia_tao_pytorch.cv.sparse4d.model.criterion as criterion  # 7.3.0 builds model.criterion lazily
patched = hasattr(criterion.FocalLoss.forward, "__wrapped__")
shapes = {{key: list(value.shape) for key, value in model.state_dict().items()}}
print(json.dumps({{"patched": patched, "shapes": shapes}}))
"""


def state_dict_shapes(switch):
    env = dict(os.environ, TAO_SPARSE4D_FIX=switch)
    result = subprocess.run([sys.executable, "-c", BUILD.format(schema=schema_module_name())],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_state_dict_keys_and_shapes_equal_with_and_without_plugin():
    stock, patched = state_dict_shapes("0"), state_dict_shapes("1")
    assert not stock["patched"] and patched["patched"]
    assert len(stock["shapes"]) > 100  # the whole Sparse4D model, not a fragment
    assert stock["shapes"] == patched["shapes"]
