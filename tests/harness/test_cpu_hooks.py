"""The test-only CPU hooks installed by harness/site/sitecustomize.py.

Runs in the harness environment:
    python3 harness/testenv.py run --tao 6.25.11 -- python -m pytest tests/harness
"""
import sys

import pytest

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)

pytest.importorskip("torch")
pytest.importorskip("nvidia_tao_pytorch")


def test_sitecustomize_installed_the_hooks():
    import tao_cpu_testonly

    assert any(isinstance(f, tao_cpu_testonly._StandInFinder) for f in sys.meta_path)


def test_trainer_gpu_arguments_land_on_cpu():
    from pytorch_lightning import Trainer
    from pytorch_lightning.accelerators import CPUAccelerator

    trainer = Trainer(accelerator="gpu", devices=[0], logger=False, enable_checkpointing=False, log_every_n_steps=50)
    assert isinstance(trainer.accelerator, CPUAccelerator)
    assert trainer.num_devices == 1
    assert trainer.log_every_n_steps == 1


def test_standins_provide_names_and_fail_loudly_when_used():
    from eff.core import Archive
    from spatialai_data_utils.constants import FPS
    from spatialai_data_utils.eval.detection.data_classes import DetectionConfig

    assert FPS > 0
    assert DetectionConfig.deserialize({"dist_th_tp": 2.0}).cfg == {"dist_th_tp": 2.0}
    with pytest.raises(NotImplementedError, match="test-only stand-in"):
        Archive()


def test_tao_sparse4d_dataset_and_ops_import():
    import nvidia_tao_pytorch.cv.sparse4d.dataloader.dataset  # noqa: F401  (imports spatialai_data_utils)
    from nvidia_tao_pytorch.cv.sparse4d.model.ops import deformable_aggregation_ext

    assert "test-only" in deformable_aggregation_ext.__doc__.lower()
