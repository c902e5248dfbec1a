#!/usr/bin/env python3
"""How ``tao-sparse4d-fix inspect`` reads this project's own runs: the calibration of its verdict.

Runs ``inspect --json`` (this checkout's code, standard library only) on every
results_nusc.json the evidence run wrote (bench/evidence: TAO's own
``format_results`` for every evaluated checkpoint, in tracking mode, which is what
``sparse4d inference`` writes, and in detection mode), with each repeat's held-out
val.pkl as ground truth, and prints one row per run: its signals and its verdict,
next to whether the run left its constant-score floor (from the evidence's results.json).

    python3 bench/inspect_calibration.py WORKDIR [--results docs/evidence/results.json] [--out FILE.md] [--json FILE]
"""
import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's inspect, not an installed copy
from tao_sparse4d_fix.commands import cli  # noqa: E402

SIGNALS = ("at_cap", "near_cap", "flat_scores", "many_per_gt", "id_churn")
KIND = {"original": "stock", "corrected": "fixed", "unmatched_only": "fixed (7.3.0)", "rescue": "fixed (rescued)",
        "base": "fixed (base)"}
# scenario: (its folder in a repeat, its held-out ground truth relative to the repeat)
SCENARIOS = {"scratch": ("scratch", "data_heldout"), "transfer": ("transfer", "data_heldout"),
             "temporal": ("temporal", "temporal/data_heldout")}


def inspect(paths, gt, num_output):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli.main(["inspect", *map(str, paths), "--gt", str(gt), "--num-output", str(num_output), "--json"])
    if status == 2:
        raise SystemExit(f"inspect refused {paths}")
    return json.loads(out.getvalue())


def learned_flags(results):
    """{(repeat, scenario, name): learned} from the evidence's results.json (curve points: their run's flag)."""
    flags = {}
    for arm, recs in results["arms"].items():
        for r, rec in enumerate(recs):
            flags[(r, "scratch", arm)] = rec["learned"]
    for scenario in ("transfer", "temporal"):
        t = results.get(scenario)
        if not t:
            continue
        for arm, recs in [*t["arms"].items(), *([("base", t["base"])] if scenario == "temporal" else [])]:
            for r, rec in enumerate(recs):
                flags[(r, scenario, arm)] = rec["learned"]
    return flags


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workdir")
    p.add_argument("--results", default=str(REPO / "docs" / "evidence" / "results.json"))
    p.add_argument("--out")
    p.add_argument("--json", dest="json_out")
    a = p.parse_args(argv)
    results = json.loads(Path(a.results).read_text())
    num_output = results["run"]["config"]["anchors"]
    flags = learned_flags(results)
    rows = []
    for rep in sorted(Path(a.workdir).glob("repeat*")):
        r = int(rep.name[len("repeat"):])
        for scenario, (folder, heldout) in SCENARIOS.items():
            nusc = rep / folder / "infer" / "nusc"
            if not nusc.is_dir():  # a run of some scenarios only (--scenarios)
                continue
            gt = rep / heldout / "val.pkl"
            for mode in ("tracking", "detection"):
                names = sorted(p.name for p in nusc.iterdir())
                files = [nusc / n / mode / "img_bbox" / "results_nusc.json" for n in names]
                for name, report in zip(names, inspect(files, gt, num_output)):
                    arm, _, step = name.partition("@")
                    rows.append({"repeat": r, "scenario": scenario, "file_mode": mode, "name": name, "arm": arm,
                                 "step": int(step) if step else None, "kind": KIND[arm],
                                 "run_learned": flags.get((r, scenario, arm)),
                                 "verdict": report["verdict"], "signals": report["signals"],
                                 "detections_per_frame": report["detections_per_frame_mean"],
                                 "frames_at_cap": report["frames_at_cap"], "score_spread": report["score_spread_mean"],
                                 "near_median_share": report["near_median_share"], "fp_per_frame": report["fp_per_frame"],
                                 "new_id_share": report.get("new_id_share")})
    lines = ["| repeat | scenario | file | run | run left its floor | detections / frame | frames at cap | spread | "
             "near median | " + " | ".join(SIGNALS) + " | verdict |",
             "|---:|---|---|---|---|---:|---:|---:|---:|" + "---|" * len(SIGNALS) + "---|"]
    for row in rows:
        fmt = lambda v: "" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
        lines.append(f"| {row['repeat']} | {row['scenario']} | {row['file_mode']} | {row['name']} ({row['kind']}) | "
                     f"{fmt(row['run_learned'])} | {row['detections_per_frame']:.1f} | {row['frames_at_cap']} | "
                     f"{fmt(row['score_spread'])} | {fmt(row['near_median_share'])} | "
                     + " | ".join(row["signals"].get(s, "") for s in SIGNALS) + f" | **{row['verdict']}** |")
    summary = {}
    for row in rows:
        key = (row["scenario"], row["file_mode"], row["kind"] if row["step"] is None else f"{row['kind']}, curve point")
        summary.setdefault(key, {}).setdefault(row["verdict"], 0)
        summary[key][row["verdict"]] += 1
    lines += ["", "| scenario | file | runs | verdicts |", "|---|---|---|---|"]
    for (scenario, mode, kind), counts in sorted(summary.items()):
        lines.append(f"| {scenario} | {mode} | {kind} | " + ", ".join(f"{v} {n}" for v, n in sorted(counts.items())) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        Path(a.out).write_text(text)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
