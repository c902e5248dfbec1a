#!/usr/bin/env python3
"""Evidence benchmark: TAO's real Sparse4D with original / corrected / unmatched_only background
supervision, in two scenarios, repeated, then TAO's inference on held-out scenes.

    python3 bench/evidence [--quick] [--out docs/evidence] [--workdir DIR] [--keep]

Per repeat (config.py holds the set-up and the reasons for it, fixed before any result was seen):

* scratch: each mode trained from the backbone checkpoint alone (``steps``);
* temporal, temporal_align: crossing scenes for tracking (config.py); every checkpoint inferred with TAO's own IDs
  and with ID continuity;
* tracker: the temporal scenario's original and corrected fine-tunes inferred with the plugin's tracker settings
  (config.TRACKER_ARMS, ``model.head.instance_bank.track_*``), in the temporal scenario's inference processes or, on
  a workdir whose temporal trainings exist, alone: ``--scenarios temporal,temporal_align,tracker --workdir DIR``;
* transfer (the headline): the scratch ``corrected`` arm is the base; it is fine-tuned
  (``train.pretrained_model_path``) on new scenes with each mode (``finetune_steps``), and
  the stock fine-tune is continued with ``corrected`` (the rescue, ``rescue_steps``); the
  stock and corrected fine-tunes and the rescue are also evaluated from the checkpoints
  TAO writes along the way (``curve_steps``).

Every run is TAO's own console entrypoint ``sparse4d train -e spec.yaml`` (harness env, CPU
torch, TAO 6.25.11, the plugin installed non-editably, ``TAO_SPARSE4D_FIX=1``), the arm chosen
by the Hydra override ``model.head.loss.cls.background_supervision=<mode>``; a bench-only probe
(probe.py) records every classification-loss call with its constant-score floor. Inference
(infer.py) runs TAO's model, decoder and instance bank on the held-out scenes and writes TAO's
own results_nusc.json too. Metrics, validity labels, tables and figures (report.py) run in
their own venv with nuscenes-devkit. Runs are scheduled ``parallel`` at a time with one
intra-op thread each.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if not __package__:  # run as `python3 bench/evidence`: the same program as `python3 -m bench.evidence`
    _repo = str(Path(__file__).resolve().parents[2])
    os.execve(sys.executable, [sys.executable, "-m", "bench.evidence", *sys.argv[1:]],
              dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_repo, os.environ.get("PYTHONPATH")]))))
from bench.evidence import config, runs  # noqa: E402


def machine_info():
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        kb = int(next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal")))
        mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "platform": platform.platform(),
            "python": platform.python_version(), "loadavg_start": os.getloadavg()}


def curve_points(name, run, steps):
    """(point name, results dir, checkpoint) of a run's intermediate checkpoints and its final one."""
    points = [(f"{name}@{s}", run["results"], str(runs.step_checkpoint(run["results"], s))) for s in steps[:-1]]
    return points + [(name, run["results"], str(runs.final_checkpoint(run["results"])))]


def prune(run, steps):
    """Delete the step checkpoints TAO wrote that no curve point reads (~0.9 GB each)."""
    keep = {runs.step_checkpoint(run["results"], s) for s in steps}
    for ckpt in (Path(run["results"]) / "train").glob("model_epoch_*_step_*.pth"):
        if ckpt not in keep and not ckpt.is_symlink():
            latest = runs.final_checkpoint(run["results"])
            if not (latest.is_symlink() and latest.resolve() == ckpt.resolve()):
                ckpt.unlink()
    return run


def run_repeats(work, cfg, keep):
    """Every repeat's data, runs and inference, ``cfg['parallel']`` processes at a time.

    Jobs are submitted in dependency order to a FIFO pool, so a job waiting on an earlier one
    only ever waits on a job that is running or done.
    """
    reps = [work / f"repeat{r}" for r in range(cfg["repeats"])]
    curve = list(cfg["curve_steps"])
    with ThreadPoolExecutor(cfg["parallel"]) as pool:
        def data(r):
            reps[r].mkdir(parents=True, exist_ok=True)
            runs.generate(reps[r] / "data_base", config.BASE_DATA_SEED + r, runs.scenes_for(cfg["steps"], cfg),
                          cfg["train_frames"], cfg)
            runs.generate(reps[r] / "data_finetune", config.FINETUNE_DATA_SEED + r,
                          runs.scenes_for(max(cfg["finetune_steps"], cfg["rescue_steps"]), cfg), cfg["train_frames"], cfg)
            runs.generate(reps[r] / "data_heldout", config.HELDOUT_SEED + r, cfg["test_scenes"], cfg["test_frames"], cfg)

        made = [pool.submit(data, r) for r in range(cfg["repeats"])]

        def scratch(r, mode):
            made[r].result()
            return runs.train(reps[r] / "scratch", mode, mode, cfg["steps"], reps[r] / "data_base", cfg,
                              config.RUN_SEED + r)

        order = [config.BASE_MODE] + [m for m in config.MODES if m != config.BASE_MODE]  # the base first
        scratch_runs = {(r, m): pool.submit(scratch, r, m) for r in range(cfg["repeats"]) for m in order}

        def finetune(r, mode):
            base = runs.final_checkpoint(scratch_runs[(r, config.BASE_MODE)].result()["results"])
            return prune(runs.train(reps[r] / "transfer", mode, mode, cfg["finetune_steps"], reps[r] / "data_finetune",
                                    cfg, config.RUN_SEED + r, pretrained=base,
                                    checkpoint_every=cfg["checkpoint_every"] if mode in config.CURVE_ARMS else None), curve)

        finetunes = {(r, m): pool.submit(finetune, r, m) for r in range(cfg["repeats"]) for m in config.MODES}

        def rescue(r):
            spoiled = runs.final_checkpoint(finetunes[(r, "original")].result()["results"])
            return prune(runs.train(reps[r] / "transfer", config.RESCUE, config.BASE_MODE, cfg["rescue_steps"],
                                    reps[r] / "data_finetune", cfg, config.RUN_SEED + r, pretrained=spoiled,
                                    checkpoint_every=cfg["checkpoint_every"]), curve)

        rescues = {r: pool.submit(rescue, r) for r in range(cfg["repeats"])}

        def infer(r):
            scratch_arms = {m: scratch_runs[(r, m)].result() for m in config.MODES}
            transfer_arms = {m: finetunes[(r, m)].result() for m in config.MODES}
            transfer_arms[config.RESCUE] = rescues[r].result()
            # one inference process for both scenarios (one TAO start-up), TAO's own track IDs as published
            points = [(f"scratch/infer/{m}", run["results"], str(runs.final_checkpoint(run["results"])))
                      for m, run in scratch_arms.items()]
            for arm, run in transfer_arms.items():
                if arm in config.CURVE_ARMS or arm == config.RESCUE:
                    points += [(f"transfer/infer/{n}", *rest) for n, *rest in curve_points(arm, run, curve)]
                else:
                    points.append((f"transfer/infer/{arm}", run["results"], str(runs.final_checkpoint(run["results"]))))
            runs.log(f"repeat {r}: inference on held-out scenes")
            wall = runs.infer(points, reps[r] / "data_heldout", reps[r], reps[r] / "infer_scratch_transfer.log",
                              bank=config.TRACKER_OFF)
            if not keep and not cfg.get("share_trainings"):  # TAO's checkpoints, ~0.9 GB each (QUICK: at the end)
                for run in [*scratch_arms.values(), *transfer_arms.values()]:
                    for ckpt in Path(run["results"]).rglob("*.pth"):
                        ckpt.unlink()
            return {"repeat": r, "scratch": {"arms": list(scratch_arms.values()), "infer": str(reps[r] / "scratch" / "infer")},
                    "transfer": {"base": config.BASE_MODE, "arms": [dict(run, arm=a) for a, run in transfer_arms.items()],
                                 "infer": str(reps[r] / "transfer" / "infer")},
                    "inference_wall_s": wall}

        return [f.result() for f in [pool.submit(infer, r) for r in range(cfg["repeats"])]]


def run_temporal(work, cfg, align=False, tracker=None, train=True):
    """The temporal scenario (``align``: temporal_align): per repeat a corrected base on crossing scenes, the three
    fine-tunes, the rescue; held-out inference with TAO's own IDs and with the plugin's ID continuity, and (temporal,
    ``tracker``: arm names of config.TRACKER_ARMS) the tracker scenario's arms, all in one inference process per repeat.

    Final checkpoints only (no curves), kept: ``main`` deletes them once every temporal scenario is done. temporal_align
    reuses the temporal scenario's data and bases (trained here if absent) and fine-tunes ``config.ALIGN_MODES`` and the
    rescue with ``config.ALIGN_OVERRIDES``. Same pool discipline as ``run_repeats``: jobs are submitted in dependency
    order. ``train`` False: nothing is trained; the trainings found in ``work`` (their records) are inferred and
    the others are named ``not_run``. Returns (the section's repeats, the tracker section's repeats or None).
    """
    repeats = cfg["temporal_repeats"]
    reps = [work / f"repeat{r}" / "temporal" for r in range(repeats)]
    arm_dirs = [work / f"repeat{r}" / ("temporal_align" if align else "temporal") for r in range(repeats)]
    overrides = config.ALIGN_OVERRIDES if align else ()
    with ThreadPoolExecutor(cfg["parallel"]) as pool:
        def data(r):
            reps[r].mkdir(parents=True, exist_ok=True)
            for name, seed, scenes, frames in (
                    ("data_base", config.TEMPORAL_BASE_DATA_SEED, runs.scenes_for(cfg["steps"], cfg), cfg["train_frames"]),
                    ("data_finetune", config.TEMPORAL_FINETUNE_DATA_SEED,
                     runs.scenes_for(max(cfg["finetune_steps"], cfg["rescue_steps"]), cfg), cfg["train_frames"]),
                    ("data_heldout", config.TEMPORAL_HELDOUT_SEED, cfg["test_scenes"], cfg["temporal_test_frames"])):
                runs.generate(reps[r] / name, seed + r, scenes, frames, cfg, temporal=True)  # once for both scenarios

        made = [pool.submit(data, r) for r in range(repeats)]

        def base(r):
            made[r].result()
            if not train:
                return runs.trained(reps[r], "base")
            return runs.train(reps[r], "base", config.BASE_MODE, cfg["steps"], reps[r] / "data_base", cfg,
                              config.RUN_SEED + r)

        bases = [pool.submit(base, r) for r in range(repeats)]

        def finetune(r, mode):
            if not train:
                return runs.trained(arm_dirs[r], mode)
            start = runs.final_checkpoint(bases[r].result()["results"])
            return runs.train(arm_dirs[r], mode, mode, cfg["finetune_steps"], reps[r] / "data_finetune", cfg,
                              config.RUN_SEED + r, pretrained=start, extra_overrides=overrides)

        modes = config.ALIGN_MODES if align else config.MODES
        finetunes = {(r, m): pool.submit(finetune, r, m) for r in range(repeats) for m in modes}

        def rescue(r):
            if not train:
                return runs.trained(arm_dirs[r], config.RESCUE)
            spoiled = runs.final_checkpoint(finetunes[(r, "original")].result()["results"])
            return runs.train(arm_dirs[r], config.RESCUE, config.BASE_MODE, cfg["rescue_steps"], reps[r] / "data_finetune",
                              cfg, config.RUN_SEED + r, pretrained=spoiled, extra_overrides=overrides)

        rescues = [pool.submit(rescue, r) if "original" in modes else None for r in range(repeats)]

        def infer(r):
            arms = {"base": bases[r].result(), **{m: finetunes[(r, m)].result() for m in modes}}
            if rescues[r] is not None:
                arms[config.RESCUE] = rescues[r].result()
            not_run = {a: f"no training record in {arm_dirs[r] if a != 'base' else reps[r]} (not trained: --no-train)"
                       for a, run in arms.items() if run is None}
            arms = {a: run for a, run in arms.items() if run is not None}
            section = arm_dirs[r].name
            points = []
            for a, run in arms.items():
                ckpt = str(runs.final_checkpoint(run["results"]))
                points += [(f"{section}/infer/{a}", run["results"], ckpt, dict(config.TRACKER_OFF)),
                           (f"{section}/infer/continuity/{a}", run["results"], ckpt,
                            dict(config.TRACKER_OFF, id_continuity_gate=config.CONTINUITY_GATE))]
            tracked = tracker_points(work, r, tracker) if tracker else None
            what = "TAO's IDs and continuity" + (f", {len(tracked['points'])} tracker arms" if tracked else "")
            runs.log(f"repeat {r} {section}: inference on held-out crossing scenes, {what}")
            wall = runs.infer(points + (tracked["points"] if tracked else []), reps[r] / "data_heldout", work / f"repeat{r}",
                              arm_dirs[r] / "infer.log")
            rep = {"repeat": r, "arms": [dict(run, arm=a) for a, run in arms.items()], "infer": str(arm_dirs[r] / "infer"),
                   "inference_wall_s": wall, **({"not_run": not_run} if not_run else {})}
            return rep, (dict(tracked["section"], inference_wall_s=wall) if tracked else None)

        done = [f.result() for f in [pool.submit(infer, r) for r in range(repeats)]]
    return [rep for rep, _ in done], ([t for _, t in done] if tracker else None)


def tracker_points(work, r, arms):
    """The tracker scenario's inference points of repeat ``r``: each arm's fine-tune (the temporal scenario's final
    checkpoint, from its record) with the arm's instance-bank settings; arms whose fine-tune has no record are named
    ``not_run``."""
    temporal = work / f"repeat{r}" / "temporal"
    points, section = [], {"repeat": r, "infer": str(work / f"repeat{r}" / "tracker" / "infer"), "arms": {},
                           "not_run": {}}
    base = temporal / "base.record.json"
    section["base"] = json.loads(base.read_text()) if base.exists() else None
    for arm in arms:
        finetune, bank, _ = config.TRACKER_ARMS[arm]
        record = temporal / f"{finetune}.record.json"
        if not record.exists():
            section["not_run"][arm] = f"no {finetune} fine-tune in {temporal} (its training record is missing)"
            continue
        run = json.loads(record.read_text())
        section["arms"][arm] = {"finetune": finetune, "bank": bank, "run": run}
        points.append((f"tracker/infer/{arm}", run["results"], str(runs.final_checkpoint(run["results"])), bank))
    return {"points": points, "section": section}


def run_tracker(work, cfg, arms):
    """The tracker scenario alone (the temporal scenario's fine-tunes already trained in ``work``): one inference
    process per repeat for its arms."""
    repeats = cfg["temporal_repeats"]
    with ThreadPoolExecutor(cfg["parallel"]) as pool:
        def infer(r):
            tracked = tracker_points(work, r, arms)
            wall = 0.0
            if tracked["points"]:
                runs.log(f"repeat {r} tracker: inference of {len(tracked['points'])} arms on held-out crossing scenes")
                wall = runs.infer(tracked["points"], work / f"repeat{r}" / "temporal" / "data_heldout", work / f"repeat{r}",
                                  work / f"repeat{r}" / "tracker_infer.log")
            return dict(tracked["section"], inference_wall_s=wall)

        return [f.result() for f in [pool.submit(infer, r) for r in range(repeats)]]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: a few steps, tiny data (numbers meaningless)")
    p.add_argument("--out", default=str(runs.REPO / "docs" / "evidence"), help="report.md, results.json, figures")
    p.add_argument("--workdir", help="data, specs, logs, probes, checkpoints (default: a fresh dir under /tmp)")
    p.add_argument("--keep", action="store_true", help="keep every checkpoint (~0.9 GB each)")
    p.add_argument("--no-train", action="store_true",
                   help="temporal scenarios: train nothing; infer the trainings whose records are in --workdir and name "
                   "the others not run")
    p.add_argument("--scenarios", default=",".join(config.SCENARIOS),
                   help="comma-separated, of: " + ", ".join(config.SCENARIOS) + " (scratch and transfer run together; "
                   "temporal, temporal_align and tracker alone add their sections to an existing results.json; "
                   "tracker infers the temporal scenario's fine-tunes found in --workdir)")
    a = p.parse_args(argv)
    scenarios = {name.strip() for name in a.scenarios.split(",") if name.strip()}
    unknown = sorted(scenarios - set(config.SCENARIOS))
    if unknown or not scenarios or ("scratch" in scenarios) != ("transfer" in scenarios):
        raise SystemExit(f"--scenarios {a.scenarios!r}: valid are {', '.join(config.SCENARIOS)}, with scratch and "
                         "transfer together (the transfer base is the scratch corrected arm)")
    cfg = dict(config.QUICK if a.quick else config.FULL)
    if not cfg["curve_steps"][-1] == cfg["finetune_steps"] == cfg["rescue_steps"]:
        raise SystemExit("config: the last curve step must be the fine-tune's and the rescue's length")
    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(a.workdir or tempfile.mkdtemp(prefix="evidence.", dir="/tmp")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    commit = subprocess.run(["git", "-C", str(runs.REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    info = {"machine": machine_info(), "quick": a.quick, "config": cfg, "tao": config.TAO, "commit": commit,
            "scratch_reasons": config.SCRATCH_REASONS, "transfer_reasons": config.TRANSFER_REASONS,
            "temporal_reasons": config.TEMPORAL_REASONS, "temporal_align_reasons": config.TEMPORAL_ALIGN_REASONS,
            "continuity_reasons": config.CONTINUITY_REASONS, "tracking_validity_rule": config.TRACKING_VALIDITY_RULE,
            "decision_rule": config.TRACKER_DECISION_RULE, "previous_decision_rule": config.DECISION_RULE,
            "tracker_reasons": config.TRACKER_REASONS, "field_metrics_reasons": config.FIELD_METRICS_REASONS,
            "tracker_arms": {name: {"finetune": ft, "bank": bank, "why": why}
                             for name, (ft, bank, why) in config.TRACKER_ARMS.items()},
            "scenarios": sorted(scenarios),
            "command": "python3 bench/evidence" + (" --quick" if a.quick else "")
            + ("" if scenarios == set(config.SCENARIOS) else f" --scenarios {','.join(sorted(scenarios))}")
            + (" --no-train" if a.no_train else ""),
            "seeds": {"base_data": config.BASE_DATA_SEED, "finetune_data": config.FINETUNE_DATA_SEED,
                      "heldout_data": config.HELDOUT_SEED, "temporal_base_data": config.TEMPORAL_BASE_DATA_SEED,
                      "temporal_finetune_data": config.TEMPORAL_FINETUNE_DATA_SEED,
                      "temporal_heldout_data": config.TEMPORAL_HELDOUT_SEED, "train.seed": config.RUN_SEED,
                      "plus": "repeat index"},
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    runs.PROVENANCE.update(commit=commit, started=info["started"])
    runs.log(f"workdir {work}; out {out}; {'QUICK' if a.quick else 'FULL'} {cfg}")

    runs.testenv.ensure([config.TAO])
    py_metrics = runs.metrics_venv()
    runs.tiny.backbone_checkpoint(config.TAO)
    tracker_arms = list(cfg.get("tracker_arms") or config.TRACKER_ARMS) if "tracker" in scenarios else None

    def temporal_scenarios():
        tracked = None
        if "temporal" in scenarios:  # the tracker's arms ride in the temporal scenario's inference processes
            info["temporal"], tracked = run_temporal(work, cfg, tracker=tracker_arms, train=not a.no_train)
        else:
            info["temporal"] = []
        info["temporal_align"] = (run_temporal(work, cfg, align=True, train=not a.no_train)[0]
                                  if "temporal_align" in scenarios else [])
        if tracker_arms and tracked is None:
            tracked = run_tracker(work, cfg, tracker_arms)
        info["tracker"] = tracked or []

    if cfg.get("share_trainings"):  # QUICK: per repeat one TAO training from scratch and one fine-tune, the rest reuse them
        for r in range(max(cfg["repeats"] if "transfer" in scenarios else 0,
                           cfg["temporal_repeats"] if scenarios & {"temporal", "temporal_align"} else 0)):
            rep = (work / f"repeat{r}").resolve()
            scratch = "scratch/corrected" if "transfer" in scenarios else "temporal/base"
            finetune = ("transfer/original" if "transfer" in scenarios else "temporal/original" if "temporal" in scenarios
                        else "temporal_align/original")
            runs.SHARE_OWNERS[("scratch", rep)] = rep / f"{scratch}.record.json"
            runs.SHARE_OWNERS[("finetune", rep)] = rep / f"{finetune}.record.json"
    if cfg.get("share_trainings"):  # QUICK: both families side by side (their trainings are shared)
        with ThreadPoolExecutor(2) as pool:
            family = pool.submit(temporal_scenarios)
            info["repeats"] = run_repeats(work, cfg, a.keep) if "transfer" in scenarios else []
            family.result()
    else:
        info["repeats"] = run_repeats(work, cfg, a.keep) if "transfer" in scenarios else []
        temporal_scenarios()
    if not a.keep:  # temporal_align and tracker use the temporal checkpoints: they go last (QUICK: every one)
        for ckpt in (work.rglob("*.pth") if cfg.get("share_trainings") else
                     (c for rep in info["temporal"] + info["temporal_align"] for run in rep["arms"]
                      for c in Path(run["results"]).rglob("*.pth"))):
            ckpt.unlink()
    info["train_wall_s"] = sum(run["wall_s"] for rep in info["repeats"] for scenario in ("scratch", "transfer")
                               for run in rep[scenario]["arms"] if not run.get("alias_of")) + sum(
        run["wall_s"] for section in ("temporal", "temporal_align") for rep in info[section] for run in rep["arms"]
        if not (section == "temporal_align" and run["arm"] == "base") and not run.get("alias_of"))
    info["total_wall_s_before_report"] = time.time() - t_start
    info["machine"]["loadavg_end"] = os.getloadavg()
    (work / "run_info.json").write_text(json.dumps(info, indent=1))

    runs.log("metrics, validity, tables, figures")
    reports = [name for name, present in (("report", info["repeats"]),
                                          ("temporal_report", info["temporal"] or info["temporal_align"] or info["tracker"]))
               if present]
    procs = [subprocess.Popen([str(py_metrics), "-m", f"bench.evidence.{name}", "--info", str(work / "run_info.json"),
                               "--out", str(out)], env=runs.clean_env(), cwd=runs.REPO) for name in reports]  # side by side
    failed = [name for name, proc in zip(reports, procs) if proc.wait()]
    if failed:
        raise SystemExit(f"evidence: {', '.join(failed)} failed (its output is above)")
    runs.log(f"done in {time.time() - t_start:.0f} s: {out / 'report.md'} (work files: {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
