"""Running the evidence's pieces in the environments they need: data, TAO training, inference, metrics venv.

Training and inference run in the harness env (CPU torch, TAO, the plugin
installed non-editably, ``TAO_SPARSE4D_FIX=1``), one intra-op thread each,
since runs are scheduled side by side (on 2 cores two single-thread TAO runs
finish in the time one two-thread run takes).
"""
import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
from bench.evidence import config
from harness import testenv, tiny

LATEST = "sparse4d_model_latest.pth"


def log(msg):
    print(f"[evidence {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def step_checkpoint(results, step):
    """The checkpoint TAO's ModelCheckpoint writes after ``step`` steps (train.checkpoint_interval_unit=step)."""
    return Path(results) / "train" / f"model_epoch_000_step_{step:05d}.pth"


def final_checkpoint(results):
    return Path(results) / "train" / LATEST


def clean_env():
    """This process's environment without a harness run's selections, for the metrics venv."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(key, None)
    env["TAO_CPU_TESTONLY"] = "0"
    return env


def metrics_venv():
    """Venv with nuscenes-devkit and its declared deps (bench/requirements.txt), cached by its hash."""
    req = REPO / "bench" / "requirements.txt"
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


def harness(cmd, log_path=None, extra_env=None, cwd=None, threads=1):
    """Run ``cmd`` in the harness env; its output goes to ``log_path`` (the tail is raised on failure)."""
    env = testenv.tao_env(config.TAO)
    env["OMP_NUM_THREADS"] = str(threads)
    env.update(extra_env or {})
    if log_path is None:
        return subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, cwd=cwd)
    with open(log_path, "w") as fh:
        done = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
    if done.returncode:
        tail = Path(log_path).read_text().splitlines()[-40:]
        raise RuntimeError(f"command failed ({done.returncode}): {' '.join(map(str, cmd))}\n" + "\n".join(tail))


def generate(out, seed, scenes, frames, cfg, temporal=False):
    """The set-up's scenes; ``temporal``: the crossing scenes of the temporal scenario."""
    kwargs = dict(seed=seed, scenes=scenes, frames=frames, cameras=cfg["cameras"], width=cfg["width"],
                  height=cfg["height"], objects=list(cfg["objects"]), num_anchors=cfg["anchors"], ground=cfg["ground"],
                  area=cfg["area"], camera_radius=cfg["camera_radius"], camera_height=cfg["camera_height"])
    if temporal:
        kwargs.update(motion="crossing", fps=cfg["temporal_fps"])
    code = ("import json, sys; from harness import synthetic_data; "
            "synthetic_data.generate(sys.argv[1], **json.loads(sys.argv[2]))")
    harness(["python", "-c", code, str(out), json.dumps(kwargs)], cwd=REPO)


def scenes_for(steps, cfg):
    """TAO trains one epoch capped at the number of training frames: enough scenes for ``steps``."""
    return -(-steps // cfg["train_frames"])


def model_overrides(cfg):
    """The head of the set-up, as Hydra overrides on the tiny spec (the same for every arm)."""
    layers = cfg["decoder_layers"]
    order = ["deformable", "ffn", "norm", "refine"] + ["temp_gnn", "gnn", "norm", "deformable", "ffn", "norm", "refine"] * (layers - 1)
    return [
        f"model.head.num_output={cfg['anchors']}",
        f"model.head.num_decoder={layers}",
        f"model.head.operation_order=[{','.join(order)}]",
        f"model.head.sampler.num_dn_groups={cfg['dn_groups']}",
        f"model.head.sampler.num_temp_dn_groups={cfg['temp_dn_groups']}",
    ]


def train(run_dir, name, mode, steps, data, cfg, seed, pretrained=None, checkpoint_every=None, checkpoint=True,
          threads=1, extra_overrides=()):
    """TAO's own ``sparse4d train -e spec.yaml``; returns the run's record (overrides, wall time, dirs).

    ``pretrained``: a TAO checkpoint to start from (``train.pretrained_model_path``: weights only).
    ``checkpoint_every``: TAO also writes a checkpoint every that many steps. ``checkpoint=False``
    skips TAO's ~0.9 GB checkpoint writes (the harness's test-only switch). ``extra_overrides``:
    more Hydra overrides (the temporal_align scenario's).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    results, probe = run_dir / name, run_dir / f"probe_{name}"
    record_path = run_dir / f"{name}.record.json"
    if record_path.exists():  # resumed with the same --workdir: this run ended before
        log(f"{run_dir.parent.name} {run_dir.name} train {name}: done before, reused")
        return json.loads(record_path.read_text())
    shutil.rmtree(results, ignore_errors=True)
    shutil.rmtree(probe, ignore_errors=True)
    spec = tiny.write_spec(run_dir / f"{name}.yaml", data, results, steps=steps, seed=seed)
    overrides = [f"{config.MODE_KEY}={mode}", *model_overrides(cfg), *extra_overrides]
    if pretrained:
        overrides.append(f"train.pretrained_model_path={pretrained}")
    if checkpoint_every:
        overrides += ["train.checkpoint_interval_unit=step", f"train.checkpoint_interval={checkpoint_every}"]
    where = f"{run_dir.parent.name} {run_dir.name}"
    log(f"{where} train {name}: {steps} steps ({mode}{', from ' + Path(pretrained).parents[1].name if pretrained else ''})")
    t0 = time.time()
    harness(["sparse4d", "train", "-e", str(spec), *overrides], run_dir / f"{name}.train.log", {
        "TAO_SPARSE4D_FIX": "1",
        "TAO_CPU_TESTONLY_PROBE": "probe",
        "EVIDENCE_PROBE_OUT": str(probe),
        "PYTHONPATH": os.pathsep.join([testenv.tao_env(config.TAO)["PYTHONPATH"], str(HERE)]),
        "TAO_CPU_TESTONLY_NO_CHECKPOINT": "" if checkpoint else "1",
    }, threads=threads)
    wall = time.time() - t0
    if checkpoint and not final_checkpoint(results).exists():
        raise RuntimeError(f"{where} {name}: TAO wrote no checkpoint at {final_checkpoint(results)}")
    log(f"{where} train {name}: done in {wall:.0f} s")
    record = {"name": name, "mode": mode, "steps": steps, "results": str(results), "probe": str(probe), "wall_s": wall,
              "command": "sparse4d train -e spec.yaml " + " ".join(o.replace(str(run_dir), "<work>") for o in overrides)}
    record_path.write_text(json.dumps(record))
    return record


def infer(points, data, out, log_path, threads=1, continuity_gate=None):
    """TAO's inference path on the held-out scenes for each ``(name, results_dir, checkpoint)``.

    ``continuity_gate``: the plugin's ID continuity gate (0: TAO's own IDs; None: as the run was trained,
    the plugin's default unless its spec set one). Skipped when every point's
    records exist (a resumed run: its checkpoints may be gone)."""
    if all((Path(out) / f"infer_{n}.json").exists() for n, _, _ in points):
        return 0.0
    t0 = time.time()
    gate = [] if continuity_gate is None else ["--continuity-gate", str(continuity_gate)]
    harness(["python", str(HERE / "infer.py"), *[f"--arm={n}={r}={c}" for n, r, c in points],
             "--data", str(data), "--out", str(out), *gate], log_path, {"TAO_SPARSE4D_FIX": "1"}, threads=threads)
    return time.time() - t0
