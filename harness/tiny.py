#!/usr/bin/env python3
"""Tiny TEST-ONLY training setup: the spec and a stand-in ResNet-101 backbone checkpoint.

Sparse4D's backbone is always ResNet-101, and TAO replaces its BatchNorms with
frozen ones; with random weights and the default statistics (mean 0, var 1)
activations blow up over 100 layers. The stand-in checkpoint is a randomly
initialised TAO ResNet-101 whose BatchNorm running statistics were measured on
synthetic images, so the frozen network keeps activations at unit scale. It is
generated into the cache (about 170 MB), never committed.

    python3 harness/tiny.py spec --data DIR --results DIR --out spec.yaml [--num-gpus 2] [--steps 4]
    python3 harness/tiny.py backbone            # build the checkpoint now (also done by `spec`)

From Python: ``backbone_checkpoint()``, ``write_spec(...)``, ``run_train(...)``.
"""
import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path
from string import Template

if __package__:  # imported as harness.tiny
    from harness import testenv
else:  # run as a script: its own directory is on sys.path
    import testenv

SPEC_TEMPLATE = testenv.HARNESS / "specs" / "tiny_train.yaml"
BACKBONE_NAME = "resnet101_calibrated_bn_v1_seed0.pth"  # bump the version when the recipe changes


def backbone_checkpoint(tao_version=testenv.DEFAULT_TAO[0]):
    """Path of the calibrated backbone checkpoint; generated (in the harness env) when missing."""
    path = testenv.cache_root() / "artifacts" / BACKBONE_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # concurrent callers each write their own
        subprocess.run([str(testenv.venv_dir() / "bin" / "python"), __file__, "_calibrate", str(tmp)],
                       check=True, env=testenv.tao_env(tao_version))
        os.replace(tmp, path)
    return path


def _calibrate(out, seed=0):
    """Runs inside the harness env: TAO's own ResNet-101, BN statistics from rendered images."""
    import numpy as np
    import torch
    from PIL import Image

    import synthetic_data
    from nvidia_tao_pytorch.cv.sparse4d.model.backbone import resnet  # noqa: F401  (registers resnet_101)
    from nvidia_tao_pytorch.cv.sparse4d.model.backbone.registry import SPARSE4D_BACKBONE_REGISTRY

    torch.manual_seed(seed)
    net = SPARSE4D_BACKBONE_REGISTRY.get("resnet_101")(out_indices=[0, 1, 2, 3], freeze_norm=False)
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over all calibration batches
    with tempfile.TemporaryDirectory() as tmp:
        infos = synthetic_data.generate(tmp, seed=seed + 1000, scenes=4, frames=2, cameras=2)
        paths = [c["data_path"] for i in infos for c in i["cams"].values()]
        imgs = np.stack([np.asarray(Image.open(p).convert("RGB"), np.float32) for p in paths])
    mean, std = np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375])  # TAO's default normalize
    x = torch.from_numpy(((imgs - mean) / std).astype(np.float32)).permute(0, 3, 1, 2)
    net.train()
    with torch.no_grad():
        for batch in x.split(4):
            net.forward_feature_pyramid(batch)
    state = {k: v for k, v in net.state_dict().items() if k.split(".")[0] in ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")}
    torch.save(state, out)


def write_spec(out, data_root, results_dir, backbone=None, num_gpus=1, steps=4, seed=0):
    """Fill specs/tiny_train.yaml for a dataset made by synthetic_data.py; returns the spec path.

    Training runs ``steps`` steps per process (TAO: dataset.num_frames // num_gpus per epoch, 1 epoch).
    """
    data_root = Path(data_root).resolve()
    meta = json.loads((data_root / "metadata.json").read_text())
    values = {
        "results_dir": Path(results_dir).resolve(),
        "num_gpus": num_gpus,
        "gpu_ids": list(range(num_gpus)),
        "seed": seed,
        "backbone": backbone or backbone_checkpoint(),
        "num_anchors": meta["num_anchors"],
        "num_temp_instances": meta["num_anchors"] // 2,
        "anchors": data_root / "anchors.npy",
        "num_cams": len(meta["cameras"]),
        "steps": steps * num_gpus,
        "data_root": data_root,
        "classes": "[" + ", ".join(meta["classes"]) + "]",
        "image_hw": meta["image_hw"],
    }
    Path(out).write_text(Template(SPEC_TEMPLATE.read_text()).substitute(values))
    return Path(out)


def run_train(tao_version, spec, overrides=(), extra_env=None, timeout=900, no_checkpoint=True):
    """Run TAO's own ``sparse4d train -e spec`` (plus Hydra ``overrides``) in the harness env.

    Returns the CompletedProcess (stdout+stderr in ``.stdout``); the caller checks
    ``returncode`` and reads losses with ``read_logs.read_scalars(results_dir)``.
    TAO_SPARSE4D_FIX comes from ``extra_env`` or the caller's environment.
    """
    env = testenv.tao_env(tao_version)
    if no_checkpoint:
        env["TAO_CPU_TESTONLY_NO_CHECKPOINT"] = "1"
    env.update(extra_env or {})
    return subprocess.run(["sparse4d", "train", "-e", str(spec), *overrides], env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("spec")
    s.add_argument("--data", required=True)
    s.add_argument("--results", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--num-gpus", type=int, default=1)
    s.add_argument("--steps", type=int, default=4, help="training steps per process")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--backbone", help="checkpoint path (default: generated into the cache)")
    sub.add_parser("backbone")
    c = sub.add_parser("_calibrate")
    c.add_argument("out")
    a = p.parse_args(argv)
    if a.cmd == "_calibrate":
        _calibrate(a.out)
    elif a.cmd == "backbone":
        print(backbone_checkpoint())
    else:
        print(write_spec(a.out, a.data, a.results, a.backbone, a.num_gpus, a.steps, a.seed))


if __name__ == "__main__":
    main()
