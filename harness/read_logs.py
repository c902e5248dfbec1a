#!/usr/bin/env python3
"""Read the scalars TAO's Sparse4D training logged (TEST-ONLY helper).

TAO's trainer logs to TensorBoard under ``results_dir`` (``<results_dir>/train/
lightning_logs/version_1/events.out.tfevents.*``); ``Sparse4DPlModel.training_step``
logs every key of the criterion's output (``loss_cls_0`` .. ``loss_cls_dn_5``,
``loss_box_*``, ...) on every step the Trainer logs -- every step in harness runs
(see tao_cpu_testonly). Only rank 0 writes them in a DDP run.
Needs the ``tensorboard`` package (in the harness venv).

    python harness/read_logs.py RESULTS_DIR [--prefix loss_cls]
"""
import argparse
import json
from pathlib import Path


def read_scalars(results_dir, prefix=""):
    """{tag: [(step, value), ...]} sorted by step, from every event file under ``results_dir``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = {}
    for path in sorted(Path(results_dir).rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(path), size_guidance={"scalars": 0})  # 0: keep every point
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            if tag.startswith(prefix):
                out.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return {tag: sorted(points) for tag, points in sorted(out.items())}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results_dir")
    p.add_argument("--prefix", default="", help="only tags starting with this, e.g. loss_cls")
    a = p.parse_args(argv)
    print(json.dumps(read_scalars(a.results_dir, a.prefix), indent=1))


if __name__ == "__main__":
    main()
