"""TAO's real Sparse4D training steps over chosen consecutive frames, for the temporal-alignment tests.

The tiny CPU spec of ``harness/tiny.py`` on a ``harness/synthetic_data.py`` set
whose last frame of every scene holds no object (every object carried from the
frame before is gone) and whose instance IDs differ between scenes. Frames are
taken from TAO's own training dataset (its transforms) and batched by its own
``collate_fn``, in the order a test names them; a step is what
``Sparse4DPlModel.training_step`` does (forward, criterion, the sum of the
``loss`` keys), then backward and an optimiser step.
"""
import importlib
import inspect
import random
from dataclasses import dataclass
from pathlib import Path

import numpy
import torch
from omegaconf import OmegaConf

from conftest import schema_module_name
from harness import synthetic_data, tiny

SCENES, FRAMES = 3, 3  # frame 2 of each scene is empty
PL_MODEL = "nvidia_tao_pytorch.cv.sparse4d.model.sparse4d_pl_model"
DATA_MODULE = "nvidia_tao_pytorch.cv.sparse4d.dataloader.pl_sparse4d_data_module"


def make_spec(root):
    """(spec path, data dir): the synthetic set and the tiny spec for it."""
    data = Path(root) / "data"
    synthetic_data.generate(data, seed=3, scenes=SCENES, frames=FRAMES, empty_frames=1)
    return tiny.write_spec(Path(root) / "spec.yaml", data, Path(root) / "results", steps=SCENES * FRAMES), data


def config(spec, **values):
    """TAO's ExperimentConfig with the spec and ``values`` ({dotted key: value}) merged as Hydra would."""
    schema = importlib.import_module(schema_module_name() + ".default_config").ExperimentConfig
    cfg = OmegaConf.merge(OmegaConf.structured(schema), OmegaConf.load(spec))
    for key, value in values.items():
        OmegaConf.update(cfg, key, value, merge=False)
    return cfg


def build(cfg):
    """TAO's Sparse4DPlModel as its training script builds it (7.3.0 builds the losses on request),
    with the spec's pretrained weights loaded as the script loads them."""
    pl_model_class = importlib.import_module(PL_MODEL).Sparse4DPlModel
    if "build_training_losses" in inspect.signature(pl_model_class.__init__).parameters:
        pl_model = pl_model_class(cfg, build_training_losses=True)
    else:
        pl_model = pl_model_class(cfg)
    load = importlib.import_module("nvidia_tao_pytorch.cv.sparse4d.utils.misc").load_pretrained_weights
    pl_model.load_state_dict(load(cfg.train.pretrained_model_path), strict=False)
    return pl_model


def optimiser(pl_model):
    """TAO's own optimiser for the model (its learning-rate schedule is left out: a few steps)."""
    return pl_model.configure_optimizers()["optimizer"]


@dataclass
class Frames:
    """TAO's training dataset: ``batch(scene, frame), ...`` collates those frames into one batch."""

    dataset: object
    collate: object

    def batch(self, *slots):
        """The same batch every time: TAO's transforms draw their augmentation from numpy's and Python's RNGs."""
        numpy.random.seed(0)
        random.seed(0)
        return self.collate([self.dataset[scene * FRAMES + frame] for scene, frame in slots])


def frames(cfg):
    module = importlib.import_module(DATA_MODULE)
    data_module = module.Sparse4DDataModule(cfg)
    data_module.setup("fit")
    return Frames(data_module.train_dataset, module.collate_fn)


def step(pl_model, optimiser, batch):
    """One training step, clipped as TAO's trainer clips; returns ({key: value}, the total loss, the gradients)."""
    pl_model.train()
    batch["img"] = batch["img"].float()
    losses = pl_model.criterion(pl_model.model(batch["img"], batch), batch)
    total = sum(value.mean() for key, value in losses.items() if "loss" in key)
    optimiser.zero_grad()
    total.backward()
    torch.nn.utils.clip_grad_norm_(pl_model.parameters(), pl_model.train_config.optim.grad_clip.max_norm)
    grads = [p.grad for p in pl_model.parameters() if p.grad is not None]
    optimiser.step()
    return {key: float(value.detach().mean()) for key, value in losses.items()}, total, grads
