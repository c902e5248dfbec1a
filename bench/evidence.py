#!/usr/bin/env python3
"""Evidence benchmark: TAO's real Sparse4D trained with original / corrected / unmatched_only
background supervision (+ a rescue arm), then TAO's inference on held-out scenes.

    python3 bench/evidence.py [--quick] [--out docs/evidence] [--workdir DIR] [--keep]

One command, three stages, each in the environment it needs:

1. Training (harness env: CPU torch, TAO 6.25.11, the plugin installed non-editably,
   TAO_SPARSE4D_FIX=1): TAO's own console entrypoint ``sparse4d train -e spec.yaml``
   once per arm, same seed, same synthetic data, same number of steps; the arm is
   chosen by the Hydra override ``model.head.loss.cls.background_supervision=<mode>``.
   The rescue arm continues from the ``original`` arm's final checkpoint
   (``train.pretrained_model_path``) with ``corrected`` for a fraction of the steps,
   backbone frozen through TAO's own ``train.optim.paramwise_cfg.custom_keys.img_backbone.lr_mult=0``
   (TAO's schema has no freeze option for anything else).
2. Inference (harness env; bench/evidence_infer.py): TAO's model rebuilt from the
   config TAO saved, final checkpoint, eval mode, TAO's predict dataloader and decoder
   (score threshold 0.05), instance bank tracking IDs across each scene's frames.
3. Metrics, table and figures (own venv with nuscenes-devkit; bench/evidence_report.py):
   writes ``<out>/report.md``, ``<out>/results.json`` and PNG figures.

Timings depend on the machine and on what else runs on it; the report records both.
"""
import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
sys.path.insert(0, str(REPO / "harness"))
import testenv  # noqa: E402
import tiny  # noqa: E402

TAO = "6.25.11"
MODE_KEY = "model.head.loss.cls.background_supervision"
MODES = ["original", "corrected", "unmatched_only"]
RESCUE = "rescue"

# Sizes. FULL: about 30 min on 2 idle CPU cores (1.3-2 s/step), longer on a shared machine;
# QUICK: a smoke run of the whole pipeline (3-5 min, dominated by the start-up of 4+1 TAO processes).
# TAO trains one epoch whose length is capped at the number of training frames (its sampler's
# __len__): when --steps asks for more, main() renders more training scenes.
FULL = dict(steps=256, rescue_steps=45, train_scenes=16, train_frames=16, test_scenes=6, test_frames=10,
            anchors=128, objects=(3, 6), width=128, height=64, cameras=2)
QUICK = dict(steps=3, rescue_steps=2, train_scenes=2, train_frames=6, test_scenes=2, test_frames=3,
             anchors=128, objects=(3, 6), width=128, height=64, cameras=2)
TRAIN_SEED, HELDOUT_SEED, RUN_SEED = 0, 1000, 0


def log(msg):
    print(f"[evidence {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def clean_env():
    """This process's environment without a harness run's selections (PYTHONPATH with the harness's
    sitecustomize and TAO, VIRTUAL_ENV), for the metrics venv; evidence.py may itself run under
    ``testenv.py run`` (tests do)."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(key, None)
    env["TAO_CPU_TESTONLY"] = "0"
    return env


def metrics_venv():
    """Venv with nuscenes-devkit and its declared deps (bench/requirements.txt), cached by its hash."""
    req = BENCH / "requirements.txt"
    key = hashlib.sha256(req.read_bytes() + testenv._python_version(testenv.PYTHON).encode()).hexdigest()[:16]
    venv = testenv.cache_root() / f"evidence-venv-{key}"
    if not (venv / ".ok").exists():
        log(f"building the metrics venv {venv}")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([testenv.PYTHON, "-m", "venv", str(venv)], check=True, env=clean_env())
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-r", str(req)], check=True, env=clean_env())
        (venv / ".ok").write_text(key)
    return venv / "bin" / "python"


def harness(cmd, log_path=None, extra_env=None):
    env = testenv.tao_env(TAO)
    env.update(extra_env or {})
    if log_path is None:
        return subprocess.run(cmd, env=env, check=True)
    with open(log_path, "w") as fh:
        done = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
    if done.returncode:
        tail = Path(log_path).read_text().splitlines()[-40:]
        raise SystemExit(f"command failed ({done.returncode}): {' '.join(map(str, cmd))}\n" + "\n".join(tail))


def generate(out, seed, scenes, frames, cfg):
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import synthetic_data; "
            "synthetic_data.generate(sys.argv[2], seed=int(sys.argv[3]), scenes=int(sys.argv[4]), frames=int(sys.argv[5]), "
            "cameras=int(sys.argv[6]), width=int(sys.argv[7]), height=int(sys.argv[8]), objects=(int(sys.argv[9]), int(sys.argv[10])), "
            "num_anchors=int(sys.argv[11]))")
    harness(["python", "-c", code, str(REPO / "harness"), str(out), str(seed), str(scenes), str(frames), str(cfg["cameras"]),
             str(cfg["width"]), str(cfg["height"]), str(cfg["objects"][0]), str(cfg["objects"][1]), str(cfg["anchors"])])


def train(work, arm, mode, steps, data, cfg, pretrained=None):
    """TAO's own entrypoint; returns the arm's record (overrides, wall time, checkpoint)."""
    results = work / arm
    shutil.rmtree(results, ignore_errors=True)
    spec = tiny.write_spec(work / f"{arm}.yaml", data, results, steps=steps, seed=RUN_SEED)
    overrides = [f"{MODE_KEY}={mode}", f"model.head.num_output={cfg['anchors']}"]
    if pretrained:
        overrides += [f"train.pretrained_model_path={pretrained}",
                      "train.optim.paramwise_cfg.custom_keys.img_backbone.lr_mult=0.0"]
    cmd = ["sparse4d", "train", "-e", str(spec), *overrides]
    log(f"train {arm}: {steps} steps: {' '.join(cmd[3:])}")
    t0 = time.time()
    harness(cmd, work / f"{arm}.train.log", {"TAO_SPARSE4D_FIX": "1"})
    wall = time.time() - t0
    ckpt = results / "train" / "sparse4d_model_latest.pth"
    if not ckpt.exists():
        raise SystemExit(f"{arm}: TAO wrote no checkpoint at {ckpt}")
    log(f"train {arm}: done in {wall:.0f} s")
    return {"arm": arm, "mode": mode, "steps": steps, "results": str(results), "wall_s": wall,
            "command": "sparse4d train -e spec.yaml " + " ".join(o.replace(str(work), "<work>") for o in overrides),
            "from_checkpoint": "original" if pretrained else None}


def machine_info():
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        kb = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")))
        mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "platform": platform.platform(),
            "python": platform.python_version(), "loadavg_start": os.getloadavg()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: a few steps, tiny data (numbers meaningless)")
    p.add_argument("--out", default=str(REPO / "docs" / "evidence"), help="report.md, results.json, figures")
    p.add_argument("--workdir", help="data, specs, logs, checkpoints (default: a fresh dir under /tmp)")
    p.add_argument("--keep", action="store_true", help="keep the checkpoints of each arm (~0.9 GB each)")
    p.add_argument("--steps", type=int, help="override the training steps per arm (more frames are rendered "
                   "when the steps need them: TAO ends an epoch at the number of training frames)")
    p.add_argument("--rescue-steps", type=int, help="override the rescue arm's steps")
    a = p.parse_args(argv)
    cfg = dict(QUICK if a.quick else FULL)
    if a.steps:
        cfg["steps"] = a.steps
    if a.rescue_steps:
        cfg["rescue_steps"] = a.rescue_steps
    needed = max(cfg["steps"], cfg["rescue_steps"])
    cfg["train_scenes"] = max(cfg["train_scenes"], -(-needed // cfg["train_frames"]))
    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(a.workdir).resolve() if a.workdir else Path(
        subprocess.run(["mktemp", "-d", "/tmp/evidence.XXXXXX"], capture_output=True, text=True, check=True).stdout.strip())
    work.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    info = {"machine": machine_info(), "quick": a.quick, "config": cfg, "tao": TAO,
            "seeds": {"train_data": TRAIN_SEED, "heldout_data": HELDOUT_SEED, "train.seed": RUN_SEED},
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    log(f"workdir {work}; out {out}; {'QUICK' if a.quick else 'FULL'} {cfg}")

    testenv.ensure([TAO])
    py_metrics = metrics_venv()
    tiny.backbone_checkpoint(TAO)

    train_data, heldout = work / "data_train", work / "data_heldout"
    generate(train_data, TRAIN_SEED, cfg["train_scenes"], cfg["train_frames"], cfg)
    generate(heldout, HELDOUT_SEED, cfg["test_scenes"], cfg["test_frames"], cfg)

    arms = [train(work, m, m, cfg["steps"], train_data, cfg) for m in MODES]
    original_ckpt = Path(arms[0]["results"]) / "train" / "sparse4d_model_latest.pth"
    arms.append(train(work, RESCUE, "corrected", cfg["rescue_steps"], train_data, cfg, pretrained=original_ckpt))
    info["arms"] = arms

    log("inference on held-out scenes")
    t0 = time.time()
    harness(["python", str(BENCH / "evidence_infer.py"), *[f"--arm={r['arm']}={r['results']}" for r in arms],
             "--data", str(heldout), "--out", str(work / "infer")], work / "infer.log", {"TAO_SPARSE4D_FIX": "1"})
    info["inference_wall_s"] = time.time() - t0
    info["train_wall_s"] = sum(r["wall_s"] for r in arms)
    info["total_wall_s_before_report"] = time.time() - t_start
    info["machine"]["loadavg_end"] = os.getloadavg()
    (work / "run_info.json").write_text(json.dumps(info, indent=1))

    log("metrics, table, figures")
    subprocess.run([str(py_metrics), str(BENCH / "evidence_report.py"), "--infer", str(work / "infer"),
                    "--info", str(work / "run_info.json"), "--out", str(out)], check=True, env=clean_env())
    if not a.keep:
        for r in arms:  # sparse4d_model_latest.pth and TAO's per-step model_epoch_*_step_*.pth, ~0.9 GB each
            for ckpt in Path(r["results"]).rglob("*.pth"):
                ckpt.unlink()
    log(f"done in {time.time() - t_start:.0f} s: {out / 'report.md'} (work files: {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
