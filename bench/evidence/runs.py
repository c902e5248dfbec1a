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
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
from bench.evidence import config
from harness import testenv, tiny

LATEST = "sparse4d_model_latest.pth"


# The commit and start time of the invocation that runs inference (set by __main__), written into every inference
# record by infer.py: a record names the run that computed it, never a later resume that only re-read it.
PROVENANCE = {"commit": None, "started": None}
# QUICK's shared trainings (``cfg["share_trainings"]``): per repeat, one training of each kind (from scratch / from a
# checkpoint) runs TAO, the one whose record path __main__ names in SHARE_OWNERS[(kind, repeat dir)]; every other
# training of that kind and repeat waits for it and reuses its run (record ``alias_of``).
SHARE_OWNERS = {}
_INFERRED, _INFERRED_LOCK = {}, threading.Lock()  # (data, checkpoint file, settings) -> (out, name) inferred
_SHARED, _SHARED_LOCK = {}, threading.Lock()


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


# Installed after bench/requirements.txt without their declared dependencies: TrackEval (HOTA, DetA, AssA; the
# maintained PyPI release of Luiten's code) declares numpy>=2.3 for Python >= 3.11 while nuscenes-devkit 1.2.0 needs
# numpy<2. Its metric classes use numpy, scipy's linear_sum_assignment and, on import, pycocotools, Pillow and
# matplotlib, all pinned in bench/requirements.txt; tests/bench/test_tracking_metrics.py checks it on known answers.
NO_DEPS = ("trackeval==1.3.0",)


def metrics_venv():
    """Venv with nuscenes-devkit and its declared deps (bench/requirements.txt) and ``NO_DEPS``, cached by their hash."""
    req = REPO / "bench" / "requirements.txt"
    key = hashlib.sha256(req.read_bytes() + " ".join(NO_DEPS).encode()
                         + testenv._python_version(testenv.PYTHON).encode()).hexdigest()[:16]
    venv = testenv.cache_root() / f"evidence-venv-{key}"
    if not (venv / ".ok").exists():
        log(f"building the metrics venv {venv}")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([testenv.PYTHON, "-m", "venv", str(venv)], check=True, env=clean_env())
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-r", str(req)], check=True, env=clean_env())
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "--no-deps", *NO_DEPS], check=True, env=clean_env())
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


_GENERATE_LOCKS, _GENERATE_LOCK = {}, threading.Lock()


def generate(out, seed, scenes, frames, cfg, temporal=False):
    """The set-up's scenes; ``temporal``: the crossing scenes of the temporal scenario. Made once: a second call for
    the same folder (both temporal scenarios side by side) waits for the first; a folder with its val.pkl is kept."""
    with _GENERATE_LOCK:
        lock = _GENERATE_LOCKS.setdefault(str(Path(out).resolve()), threading.Lock())
    with lock:
        if (Path(out) / "val.pkl").exists():  # made before (synthetic_data writes val.pkl last), or by another scenario
            return
        _generate(out, seed, scenes, frames, cfg, temporal)


def _generate(out, seed, scenes, frames, cfg, temporal=False):
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


def trained(run_dir, name):
    """The record of a training that ended in ``run_dir`` (None: it never did)."""
    record_path = Path(run_dir) / f"{name}.record.json"
    return json.loads(record_path.read_text()) if record_path.exists() else None


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
    kind = share_kind(pretrained, extra_overrides)
    owner_path = SHARE_OWNERS.get((kind, run_dir.parent.resolve()))
    if cfg.get("share_trainings") and owner_path is not None:
        owner = record_path.resolve() == Path(owner_path).resolve()
        with _SHARED_LOCK:
            first = _SHARED.setdefault((kind, run_dir.parent.resolve()), {"event": threading.Event(), "record": None})
            if owner and first.get("claimed"):  # the same run asked for twice (both temporal scenarios' base)
                owner = False
            elif owner:
                first["claimed"] = True
        if not owner:
            first["event"].wait()
            if first["record"] is None:
                raise RuntimeError(f"{where} {name}: the shared {kind} training it reuses failed")
            log(f"{where} train {name}: QUICK, reuses {first['record']['results']}")
            command = "sparse4d train -e spec.yaml " + " ".join(o.replace(str(run_dir), "<work>") for o in overrides)
            record = dict(first["record"], name=name, mode=mode, alias_of=first["record"]["results"],
                          command=f"(QUICK: not trained; reuses the {kind} run {first['record']['results']}) {command}")
            record_path.write_text(json.dumps(record))
            return record
        try:
            record = _train(run_dir, name, mode, steps, data, cfg, seed, pretrained, checkpoint_every, checkpoint,
                            threads, extra_overrides, spec, overrides, where, results, probe, record_path)
            first["record"] = record
            return record
        finally:
            first["event"].set()
    return _train(run_dir, name, mode, steps, data, cfg, seed, pretrained, checkpoint_every, checkpoint, threads,
                  extra_overrides, spec, overrides, where, results, probe, record_path)


def share_kind(pretrained, extra_overrides=()):
    """QUICK's sharing key of a training: from scratch or fine-tune (alignment's fine-tunes too: its training through
    TAO is tests/e2e/test_temporal_align_train.py's; QUICK shows the evidence's records and the override each carries)."""
    return "finetune" if pretrained else "scratch"


def _train(run_dir, name, mode, steps, data, cfg, seed, pretrained, checkpoint_every, checkpoint, threads,
           extra_overrides, spec, overrides, where, results, probe, record_path):
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


def infer(points, data, out, log_path, threads=1, continuity_gate=None, bank=None):
    """TAO's inference path on the held-out scenes for each ``(name, results_dir, checkpoint[, settings])``, in one
    process (one TAO start-up).

    ``bank``: instance-bank settings (``model.head.instance_bank.KEY``: the plugin's ``id_continuity_gate``,
    ``track_gate``, ...) for every point; a point's own ``settings`` dict adds to them. ``continuity_gate``: shorthand
    for ``bank=dict(config.TRACKER_OFF, id_continuity_gate=M)`` (0: TAO's own IDs; neither: the plugin's defaults). A name ``sub/arm``
    writes ``out/sub/infer_arm.json``. Skipped when every point's record exists (a resumed run: its checkpoints may be
    gone). A point with the same checkpoint file, settings and data as one inferred before in this process gets a copy
    of that record (``copied_from``; inference is deterministic: TAO's eval mode, seed 0). Returns the inference wall
    time (0.0 when nothing was inferred)."""
    common = dict(bank or {})
    if continuity_gate is not None:  # ID continuity alone (0: TAO's own IDs): every other key off
        common.update(config.TRACKER_OFF, id_continuity_gate=continuity_gate)
    points = [(p[0], p[1], p[2], dict(common, **(p[3] if len(p) > 3 and p[3] else {}))) for p in points]
    points = [p for p in points if not record_path(out, p[0]).exists()]  # a resume infers only what is missing
    run, copies, mine = [], [], []
    with _INFERRED_LOCK:  # claim each (data, checkpoint, settings) once; a later claimant copies its record
        for point in points:
            name, _, ckpt, settings = point
            key = (str(Path(data).resolve()), str(Path(ckpt).resolve()), json.dumps(settings, sort_keys=True))
            if key in _INFERRED:
                copies.append((name, _INFERRED[key]))
            else:
                _INFERRED[key] = {"where": (Path(out), name), "done": threading.Event()}
                mine.append(_INFERRED[key])
                run.append(point)
    wall = 0.0
    try:
        if run:
            args = [f"--arm-bank={n}:{k}={v}" for n, _, _, own in run for k, v in own.items()]
            t0 = time.time()
            harness(["python", str(HERE / "infer.py"), *[f"--arm={n}={r}={c}" for n, r, c, _ in run],
                     "--data", str(data), "--out", str(out), "--provenance", json.dumps(PROVENANCE), *args], log_path,
                    {"TAO_SPARSE4D_FIX": "1"}, threads=threads)
            wall = time.time() - t0
    finally:
        for claim in mine:  # set before waiting on anyone else's: two calls never wait on each other
            claim["done"].set()
    for name, claim in copies:
        claim["done"].wait()
        src_out, src_name = claim["where"]
        source = record_path(src_out, src_name)
        if not source.exists():  # not run there (a setting TAO's schema lacks): nothing to copy
            continue
        record = json.loads(source.read_text())
        record.update(arm=name, copied_from=str(source))
        target = record_path(out, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(record))
        scalars = source.with_name(source.name.replace("infer_", "scalars_", 1))
        if scalars.exists():
            shutil.copyfile(scalars, target.with_name(target.name.replace("infer_", "scalars_", 1)))
        nusc = Path(src_out) / "nusc" / src_name
        if nusc.exists():
            shutil.copytree(nusc, Path(out) / "nusc" / name, dirs_exist_ok=True)
    if copies:
        log(f"{Path(out).name}: {len(copies)} point(s) copied from identical inferences ({', '.join(n for n, _ in copies)})")
    return wall


def record_path(out, name):
    """Where infer.py writes the record of point ``name`` (``sub/arm`` -> ``out/sub/infer_arm.json``)."""
    name = Path(name)
    return Path(out) / name.parent / f"infer_{name.name}.json"
