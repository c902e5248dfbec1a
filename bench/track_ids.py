#!/usr/bin/env python3
"""What the plugin's track IDs cost per frame, beside TAO's own calls, in one run.

1. ``InstanceBank.get_instance_id`` at TAO's default head (900 queries, 600 carried), driven as
   ``Sparse4DHead.forward`` drives it (``cache`` then ``get_instance_id``) over a sequence of frames:
   60 objects moving at 1-3 m/s, each detected by a fresh query plus a duplicate 0.3 m away (the
   fixed model's pattern), the carried queries where the bank put them (shown when on an object),
   and 10 classes. Arms: ``stock`` (the plugin uninstalled), ``continuity`` (id_continuity_gate 1 m),
   ``tracker`` (every track_* piece on). The same frames for every arm; arms alternate frame by frame.
2. A whole inference frame of TAO's model (``Sparse4D.forward`` in eval mode: backbone, head, the
   instance bank, the decoder) from the CPU harness's tiny spec at TAO's default head size, stock
   against the plugin's default and the tracker, the same frames, arms alternating.

One intra-op thread. Reported: the median per call (ms) and each arm's ratio to stock, with the
interquartile range.

    python3 harness/testenv.py run --tao 6.25.11 -- python -m bench.track_ids [--frames 200] [--model-frames 30] [--out FILE] [--quick]
"""
import argparse
import importlib
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import tao_sparse4d_fix
from tao_sparse4d_fix.runtime import id_settings

BANK = "nvidia_tao_pytorch.cv.sparse4d.model.instance_bank"
QUERIES, CARRIED, CLASSES, OBJECTS, THRESHOLD, INTERVAL = 900, 600, 10, 60, 0.05, 0.5
TRACKER = id_settings.Settings(track_gate=1.0, track_max_age=3, track_speed_gate=0.5, track_assignment="hungarian",
                               track_nms_radius=1.0)
ARMS = {"stock": None, "continuity": id_settings.Settings(id_continuity_gate=1.0), "tracker": TRACKER}


def synthetic_frames(count, seed=0):
    """(logit rule, anchors) per frame: the objects' fresh detections and duplicates; the carried part is
    filled in from the bank when the frame is played (``play``)."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(-40, 40, size=(OBJECTS, 2))
    velocity = rng.uniform(1, 3, size=(OBJECTS, 1)) * rng.normal(size=(OBJECTS, 2))
    classes = rng.integers(0, CLASSES, size=OBJECTS)
    for t in range(count):
        centre = start + velocity * INTERVAL * t
        anchor = np.zeros((1, QUERIES, 11), dtype=np.float32)
        anchor[0, :, :2] = rng.uniform(-50, 50, size=(QUERIES, 2))
        logits = np.full((1, QUERIES, CLASSES), -6.0, dtype=np.float32)
        fresh = CARRIED + rng.permutation(QUERIES - CARRIED)[: 2 * OBJECTS]
        for copy, queries in enumerate((fresh[:OBJECTS], fresh[OBJECTS:])):
            anchor[0, queries, :2] = centre + rng.normal(scale=0.1, size=(OBJECTS, 2)) + 0.3 * copy
            anchor[0, queries, 8:10] = velocity
            logits[0, queries, classes] = 2.0 - copy
        yield torch.from_numpy(logits), torch.from_numpy(anchor), centre, classes


def play(bank, logits, anchor, centre, classes):
    """One frame: the carried queries sit where the bank carried them; those on an object are shown."""
    if bank.cached_anchor is not None:
        carried = bank.cached_anchor[:, :CARRIED].clone()
        anchor[:, :CARRIED] = carried
        near = torch.cdist(carried[0, :, :2].double(), torch.from_numpy(centre)).min(dim=1)
        on_object = near.values < 0.5
        logits[0, :CARRIED] = -6.0
        rows = torch.nonzero(on_object)[:, 0]
        logits[0, rows, torch.from_numpy(classes)[near.indices[rows]]] = 1.5
    bank.cache(torch.zeros((1, QUERIES, 4)), anchor, logits)
    bank.time_interval = torch.tensor([INTERVAL])
    start = time.perf_counter()
    bank.get_instance_id(logits, anchor, THRESHOLD)
    return time.perf_counter() - start


def bank_times(frames):
    """Per arm, the seconds of every get_instance_id call, arms interleaved frame by frame."""
    module = importlib.import_module(BANK)
    banks = {}
    for arm, settings in ARMS.items():
        banks[arm] = module.InstanceBank(num_anchor=QUERIES, embed_dims=4, anchor=np.zeros((QUERIES, 11)),
                                         num_temp_instances=CARRIED)
        if settings is not None:
            setattr(banks[arm], id_settings.BANK_ATTRIBUTE, settings)
    times = {arm: [] for arm in ARMS}
    for logits, anchor, centre, classes in synthetic_frames(frames):
        for arm in ARMS:
            times[arm].append(play(banks[arm], logits.clone(), anchor.clone(), centre, classes))
    return {arm: values[5:] for arm, values in times.items()}  # the first frames fill the bank


def model_times(frames):
    """Per arm, the seconds of each whole inference frame of TAO's model (tiny spec, TAO's default head)."""
    from omegaconf import OmegaConf

    from harness import synthetic_data, tiny

    work = Path(tempfile.mkdtemp(prefix="track-ids-bench."))
    data = work / "data"
    synthetic_data.generate(data, seed=0, scenes=1, frames=frames + 2, num_anchors=QUERIES)
    spec = tiny.write_spec(work / "spec.yaml", data, work / "results", steps=1)
    schema = importlib.import_module(_schema_module()).ExperimentConfig
    cfg = OmegaConf.merge(OmegaConf.structured(schema), OmegaConf.load(spec))
    cfg.model.head.instance_bank.num_anchor = QUERIES
    cfg.model.head.instance_bank.num_temp_instances = CARRIED
    cfg.model.head.num_output = 300
    pl_module = importlib.import_module("nvidia_tao_pytorch.cv.sparse4d.model.sparse4d_pl_model")
    data_module = importlib.import_module("nvidia_tao_pytorch.cv.sparse4d.dataloader.pl_sparse4d_data_module")
    module = data_module.Sparse4DDataModule(cfg)
    module.setup("fit")
    batches = [data_module.collate_fn([module.train_dataset[i]]) for i in range(frames + 2)]
    models = {}
    for arm, settings in ARMS.items():
        torch.manual_seed(0)
        model = pl_module.Sparse4DPlModel(cfg).model.eval()
        if settings is not None:
            setattr(model.head.instance_bank, id_settings.BANK_ATTRIBUTE, settings)
        models[arm] = model
    times = {arm: [] for arm in ARMS}
    with torch.no_grad():
        for batch in batches:
            for arm, model in models.items():
                (tao_sparse4d_fix.uninstall if arm == "stock" else tao_sparse4d_fix.install)()
                img = batch["img"].float()
                start = time.perf_counter()
                model(img, batch)
                times[arm].append(time.perf_counter() - start)
    tao_sparse4d_fix.install()
    return {arm: values[2:] for arm, values in times.items()}


def _schema_module():
    """Where TAO's ExperimentConfig lives (moved into nvidia_tao_pytorch in 7.0)."""
    from tao_sparse4d_fix.runtime import versions

    old = versions.installed("nvidia-tao-pytorch").split(".")[0] in ("5", "6")
    return ("nvidia_tao_core" if old else "nvidia_tao_pytorch") + ".config.sparse4d.default_config"


def table(title, times):
    stock = statistics.median(times["stock"])
    rows = [f"### {title}", "", "| arm | median ms | IQR ms | added ms | ratio to stock |", "|---|---:|---:|---:|---:|"]
    for arm, values in times.items():
        q = statistics.quantiles(values, n=4)
        median = statistics.median(values)
        rows.append(f"| {arm} | {median * 1e3:.3f} | {q[0] * 1e3:.3f}-{q[2] * 1e3:.3f} | "
                    f"{(median - stock) * 1e3:+.3f} | {median / stock:.3f}x |")
    return rows + [f"", f"{len(times['stock'])} frames per arm, arms interleaved."]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--model-frames", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="20 bank frames, 4 model frames")
    parser.add_argument("--out")
    a = parser.parse_args(argv)
    if a.quick:
        a.frames, a.model_frames = 20, 4
    torch.set_num_threads(1)
    tao_sparse4d_fix.install()
    lines = [f"Machine: {platform.processor() or platform.machine()}, load average at start "
             f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; torch {torch.__version__}, one thread.", ""]
    lines += table(f"InstanceBank.get_instance_id, {QUERIES} queries, {CARRIED} carried", bank_times(a.frames))
    if a.model_frames:
        lines += [""] + table("A whole inference frame of TAO's model (tiny spec, TAO's default head)", model_times(a.model_frames))
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
