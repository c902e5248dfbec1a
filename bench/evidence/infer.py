#!/usr/bin/env python
"""Inference half of the evidence: runs INSIDE the harness env (CPU torch + TAO on PYTHONPATH).

For each trained arm (or one of its intermediate checkpoints) it rebuilds TAO's
own ``Sparse4DPlModel`` from the configuration TAO itself saved for that run
(``<results>/train/experiment.yaml``), loads the checkpoint with TAO's
``load_pretrained_weights`` (as TAO's inference script does), and runs TAO's
inference path on the held-out scenes:
eval mode, ``Sparse4DDataModule``'s predict dataloader (TAO's test transforms,
sequential frames), ``Sparse4D.simple_test``'s steps (features -> head ->
``head.post_process`` = ``SparseBox3DDecoder.decode`` with the spec's
``score_threshold``), the instance bank carrying track IDs across the
consecutive frames of a scene and reset at every new scene. Per frame it also keeps
whether the bank carried temporal instances from the previous frame, the time
interval it used, and every query's track ID (queries ``0..num_temp_instances-1``
are the temporal instances once carried).

Writes one JSON per arm with, per frame: the decoder's detections (box, score,
class, track ID), every query's max-class score and centre (for the
score distribution of far-from-object queries), and the ground truth; and TAO's
own ``results_nusc.json`` (the dataset's ``format_results``, as ``sparse4d
inference`` writes it) in detection and in tracking mode, under
``DIR/nusc/NAME/{detection,tracking}/img_bbox/``. Also dumps the TensorBoard
scalars of each run (harness/read_logs.py).

    python bench/evidence/infer.py --arm NAME=RESULTS_DIR=CHECKPOINT [...] --data HELDOUT_DIR --out DIR
        [--bank KEY=VALUE ...] [--arm-bank NAME:KEY=VALUE ...] [--continuity-gate M]

``--bank``: a key of the plugin's instance-bank settings (``model.head.instance_bank.KEY``, e.g.
``id_continuity_gate=1.0``, ``track_gate=1.0``, ``track_assignment=hungarian``) for every arm; ``--arm-bank``
for one arm (after ``--bank``). Each record names the settings it ran with (``bank``). An arm NAME with a ``/``
(``continuity/original``) writes under that sub-folder of ``--out`` (``continuity/infer_original.json``), so one
process can infer one checkpoint under several settings (one TAO start-up).
"""
import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run as a script: the repository root holds the harness package


def parse_value(text):
    """A setting's value as YAML reads it (1.0 -> float, 3 -> int, hungarian -> str, true -> bool)."""
    import yaml

    return yaml.safe_load(text)


def parse_setting(text):
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise SystemExit(f"bank setting {text!r}: expected KEY=VALUE")
    return key.strip(), parse_value(value)


def load_config(results_dir, heldout, bank=None):
    """TAO's ExperimentConfig schema merged with the config TAO saved for the run; test split -> held-out data.

    ``bank``: instance-bank keys set on ``model.head.instance_bank`` (the plugin's keys exist in TAO's schema once
    it is installed; an unknown key or a bad value fails here, before the model is built)."""
    from omegaconf import OmegaConf
    from nvidia_tao_core.config.sparse4d.default_config import ExperimentConfig

    saved = OmegaConf.load(Path(results_dir) / "train" / "experiment.yaml")
    cfg = OmegaConf.merge(OmegaConf.structured(ExperimentConfig), saved)
    heldout = Path(heldout).resolve()
    cfg.dataset.data_root = str(heldout)
    cfg.dataset.test_dataset.ann_file = str(heldout / "val.pkl")
    for key, value in (bank or {}).items():
        cfg.model.head.instance_bank[key] = value
    return cfg


def record_path(out_dir, name, prefix="infer_"):
    """``out/infer_NAME.json``; a NAME ``sub/arm`` -> ``out/sub/infer_arm.json``."""
    name = Path(name)
    return Path(out_dir) / name.parent / f"{prefix}{name.name}.json"


class UnknownSetting(Exception):
    """An instance-bank key TAO's schema does not have (the plugin that adds it is not installed, or older)."""


def run_arm(name, results_dir, ckpt, heldout, out_dir, settings=None, provenance=None):
    import numpy as np
    import torch
    from nvidia_tao_pytorch.cv.sparse4d.dataloader.pl_sparse4d_data_module import Sparse4DDataModule
    from nvidia_tao_pytorch.cv.sparse4d.model.sparse4d_pl_model import Sparse4DPlModel
    from nvidia_tao_pytorch.cv.sparse4d.utils.misc import load_pretrained_weights
    from omegaconf import OmegaConf

    torch.manual_seed(0)
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    try:
        cfg = load_config(results_dir, heldout, settings)
    except (ConfigKeyError, ConfigAttributeError) as err:  # a bad VALUE of a known key still fails the run
        raise UnknownSetting(f"{type(err).__name__}: {str(err).splitlines()[0]}") from err
    pl_model = Sparse4DPlModel(cfg)
    missing, unexpected = pl_model.load_state_dict(load_pretrained_weights(str(ckpt)), strict=False)
    if missing or unexpected:  # TAO loads with strict=False; a silent partial load would void the comparison
        raise SystemExit(f"{name}: checkpoint does not match the model: missing={missing[:5]} unexpected={unexpected[:5]}")
    pl_model.eval()
    model = pl_model.model
    bank = model.head.instance_bank
    threshold = model.head.decoder.score_threshold

    dm = Sparse4DDataModule(cfg)
    dm.setup("predict")
    infos = dm.test_dataset.data_infos
    frames, outputs, scene, t0 = [], [], None, time.time()
    with torch.no_grad():
        for idx, batch in enumerate(dm.predict_dataloader()):
            info = infos[idx]
            if info["scene_name"] != scene:  # new scene: fresh instance bank (IDs, cached instances)
                bank.reset()
                scene = info["scene_name"]
            img = batch["img"].float()
            # Sparse4D.simple_test, unrolled to keep the raw head outputs next to the decoded ones
            feature_maps = model.extract_feat(img, False, batch)
            outs = model.head(feature_maps, batch)
            det = model.head.post_process(outs)[0]
            outputs.append({"img_bbox": det})
            cls = outs["classification"][-1][0].sigmoid().max(dim=-1).values  # what the threshold is applied to
            carried = bank.mask is not None and bool(bank.mask.all())  # temporal instances came from the last frame
            centres = outs["prediction"][-1][0][:, :3]
            frames.append({
                "token": info["token"], "scene": info["scene_name"], "frame_idx": int(info["frame_idx"]),
                "timestamp": float(info["timestamp"]),
                "det_boxes": det["boxes_3d"][:, :7].tolist(),
                "det_scores": det["scores_3d"].tolist(),
                "det_cls_scores": det["cls_scores"].tolist() if "cls_scores" in det else det["scores_3d"].tolist(),
                "det_labels": det["labels_3d"].tolist(),
                "det_ids": det["instance_ids"].tolist(),
                "query_scores": cls.tolist(),
                "query_centres": centres.tolist(),
                "query_ids": outs["instance_id"][0].tolist(),
                "carried": carried,
                "time_interval": float(bank.time_interval.reshape(-1)[0]),
                "gt_boxes": np.asarray(info["gt_boxes"]).tolist(),
                "gt_names": [str(n) for n in info["gt_names"]],
                "gt_ids": [int(i) for i in info["instance_inds"]],
            })
    for mode, tracking in (("detection", False), ("tracking", True)):  # TAO's own results_nusc.json
        dm.test_dataset.format_results(outputs, jsonfile_prefix=str(Path(out_dir) / "nusc" / name / mode), tracking=tracking)
    wall = time.time() - t0
    print(f"{name}: {len(frames)} frames in {wall:.1f} s, score_threshold {threshold}, bank settings {settings or {}}", flush=True)
    path = record_path(out_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "arm": name, "score_threshold": threshold, "classes": list(cfg.dataset.classes),
        "num_anchor": bank.num_anchor, "num_temp_instances": bank.num_temp_instances,
        "num_output": model.head.decoder.num_output, "tracking_threshold": dm.test_dataset.tracking_threshold,
        "continuity_gate": (settings or {}).get("id_continuity_gate"), "bank": dict(settings or {}),
        "bank_effective": {k: v for k, v in OmegaConf.to_container(cfg.model.head.instance_bank).items()
                           if k in ("id_continuity_gate",) or k.startswith("track_")},
        "inference_wall_s": wall, **(provenance or {}),
        "frames": frames,
    }))


def dump_scalars(name, results_dir, out_dir):
    from harness import read_logs

    scalars = read_logs.read_scalars(results_dir)
    # wall-clock time of each logged training step (step time without process start-up)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    walls = []
    for path in sorted(Path(results_dir).rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
        acc.Reload()
        if "loss" in acc.Tags()["scalars"]:
            walls += [(e.step, e.wall_time) for e in acc.Scalars("loss")]
    scalars["_wall_time_loss"] = sorted(walls)
    path = record_path(out_dir, name, "scalars_")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scalars))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arm", action="append", required=True, help="NAME=RESULTS_DIR=CHECKPOINT")
    p.add_argument("--data", required=True, help="held-out dataset dir (synthetic_data.py)")
    p.add_argument("--out", required=True)
    p.add_argument("--bank", action="append", default=[], metavar="KEY=VALUE",
                   help="an instance-bank setting (model.head.instance_bank.KEY) for every arm")
    p.add_argument("--arm-bank", action="append", default=[], metavar="NAME:KEY=VALUE",
                   help="an instance-bank setting for the arm NAME only (overrides --bank)")
    p.add_argument("--provenance", default="{}",
                   help="JSON written into every record: the commit and start time of the run that infers")
    p.add_argument("--continuity-gate", type=float,
                   help="shorthand for --bank id_continuity_gate=M, metres (default: as trained)")
    a = p.parse_args(argv)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    common = dict(parse_setting(s) for s in a.bank)
    if a.continuity_gate is not None:
        common["id_continuity_gate"] = a.continuity_gate
    arms = [spec.split("=", 2) for spec in a.arm]
    per_arm = {name: dict(common) for name, _, _ in arms}
    for spec in a.arm_bank:
        name, sep, setting = spec.partition(":")
        if not sep or name not in per_arm:
            raise SystemExit(f"--arm-bank {spec!r}: expected NAME:KEY=VALUE with NAME one of {sorted(per_arm)}")
        per_arm[name].update([parse_setting(setting)])
    provenance = json.loads(a.provenance)
    not_run = []
    for name, results, ckpt in arms:
        dump_scalars(name, results, a.out)
        try:
            run_arm(name, results, ckpt, a.data, a.out, per_arm[name], provenance)
        except UnknownSetting as err:  # named in a side file (a resume tries again), the report says "not run"
            path = record_path(a.out, name, "notrun_")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"arm": name, "bank": per_arm[name], "not_run": str(err), **provenance}))
            not_run.append(name)
            print(f"{name}: NOT RUN, a setting TAO's schema does not have: {err}", flush=True)
    if not_run:
        print(f"not run (settings unknown to TAO's schema): {', '.join(not_run)}", flush=True)


if __name__ == "__main__":
    main()
