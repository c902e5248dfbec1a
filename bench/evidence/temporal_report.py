#!/usr/bin/env python
"""The temporal scenario's metrics, validity, tables and figure (runs in the metrics venv).

Reads what ``python3 bench/evidence`` left for the temporal scenario (per-frame records of
infer.py, loss-call records of probe.py), writes ``temporal.md`` and a tracking figure, and
adds the ``temporal`` section to ``results.json`` (keeping every other section). Comparisons
follow the evidence's rule: a repeat counts only where both arms and the base left their floor.

    python -m bench.evidence.temporal_report --info WORK/run_info.json --out docs/evidence
"""
import argparse
import json
from pathlib import Path

import numpy as np

from bench.evidence import figures, metrics, report, validity

ARMS = ["original", "corrected", "unmatched_only", "rescue"]
PAIRS = [("corrected", "original"), ("unmatched_only", "original"), ("corrected", "unmatched_only"),
         ("rescue", "original")]
# (label, key, format, direction for the first arm of a pair: -1 lower is better, +1 higher, 0 none)
TRACK_ROWS = [
    ("ID persistence (consecutive matched frames keeping the ID)", "id_persistence", "{:.3f}", +1),
    ("… consecutive matched frame pairs", "consecutive_matched_pairs", "{:.0f}", 0),
    ("false-positive tracks / frame (tracked, no object within 2 m)", "fp_tracks_per_frame", "{:.1f}", -1),
    ("… frames each false-positive ID lives", "fp_track_lifetime_frames", "{:.2f}", 0),
    ("fragments (distinct IDs) / ground-truth track", "fragments_per_gt_track", "{:.2f}", -1),
    ("MOTA at best threshold, class-agnostic (nuscenes-devkit)", "mota", "{:.3f}", +1),
    ("-1 rows / training step (last layer's denoising call)", "minus1_rows_per_step", "{:.2f}", 0),
    ("matched objects given to a temporal instance in training (last 20 % of steps)", "train_temporal_match_share",
     "{:.3f}", 0),
    ("objects whose best query is a temporal instance (inference)", "objects_best_query_temporal_share", "{:.3f}", 0),
    ("… median score of temporal instances within 2 m of an object", "temporal_query_score_near_object", "{:.3f}", 0),
    ("… median score of fresh queries within 2 m of an object", "fresh_query_score_near_object", "{:.3f}", 0),
]
ROWS = report.ROWS + TRACK_ROWS


def training_diagnostics(steps, layers):
    """-1 rows per step and the matcher's temporal share, from the probe's records of one run."""
    minus1 = [s["calls"][2 * layers - 1]["labels"].get("-1", 0) for s in steps if len(s["calls"]) >= 2 * layers]
    main = [s["calls"][layers - 1] for s in steps if len(s["calls"]) >= layers]
    tail = main[-max(1, int(round(len(main) * validity.TAIL))):] if main else []
    carried = [c for c in tail if c.get("temporal_positives") is not None]
    temporal = sum(c["temporal_positives"] for c in carried)
    total = temporal + sum(c["fresh_positives"] for c in carried)
    return {"minus1_rows_per_step": float(np.mean(minus1)) if minus1 else 0.0,
            "steps_with_minus1": int(sum(1 for m in minus1 if m)),
            "train_temporal_match_share": temporal / total if total else None,
            "train_carried_step_share": len([c for c in main if c.get("temporal_positives") is not None]) / max(len(main), 1)}


def record(infer_dir, arm, run, layers):
    rec = report.point_record(infer_dir, arm, run, layers)
    data = json.loads((Path(infer_dir) / f"infer_{arm}.json").read_text())
    rec.update(metrics.tracking_metrics(data))
    rec.update(metrics.temporal_query_diagnostics(data))
    rec.update(training_diagnostics(validity.read_probe(run["probe"]), layers))
    rec["mota"] = rec["tracking"]["mota"]
    return rec


def summarise(records):
    return {arm: {key: report.spread([r.get(key) for r in recs]) for _, key, _, _ in ROWS} for arm, recs in records.items()}


def render(out, info, t, fig):
    cfg = info["config"]
    n = t["repeats"]
    arms = {"base": t["base"], **t["arms"]}
    lines = ["# Evidence, temporal scenario: tracking on crossing scenes", "",
             f"Command: `{info['command']}` (TAO {info['tao']}, commit {info['commit']}, started {info['started']}). "
             f"{n} repeats; mean (min–max) over repeats. Base: {cfg['steps']} steps of `corrected` on crossing "
             f"scenes; each fine-tune {cfg['finetune_steps']} steps from it; rescue {cfg['rescue_steps']} steps "
             "from the stock fine-tune.", "", "## Set-up, fixed before any result was seen", ""]
    lines += [f"- {r}" for r in info["temporal_reasons"]]
    lines += ["", "## Did each run learn? (the floor rule)", ""] + report.validity_table(arms, n)
    summary = t["summary"]
    lines += ["", "## Detection and tracking on held-out crossing scenes", ""]
    table = ["| metric | " + " | ".join(report.TITLES[a] for a in arms) + " |", "|---" + "|---:" * len(arms) + "|"]
    for label, key, fmt, _ in ROWS:
        table.append(f"| {label} | " + " | ".join(report.cell(summary[a][key], fmt) for a in arms) + " |")
    lines += table
    lines += ["", "## Comparisons (a repeat counts only where both arms and the base left their floor)", ""]
    cols = [(f"{report.TITLES[a]} vs {report.TITLES[b]}", f"{a}_vs_{b}") for a, b in PAIRS]
    lines += ["| metric | " + " | ".join(c for c, _ in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for label, key, _, direction in ROWS:
        if direction:
            lines.append(f"| {label} ({'lower' if direction < 0 else 'higher'} is better) | "
                         + " | ".join(report.verdict(t["comparisons"][c][key]) for _, c in cols) + " |")
    lines += ["", f"![ID persistence and false-positive tracks per arm]({fig.name})", "",
              "Machine-readable numbers: the `temporal` section of [results.json](results.json).", ""]
    (out / "temporal.md").write_text("\n".join(lines))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--info", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    info = json.loads(Path(a.info).read_text())
    layers = info["config"]["decoder_layers"]
    per_repeat = []
    for rep in info["temporal"]:
        runs = {run["arm"]: run for run in rep["arms"]}
        recs = {arm: record(rep["infer"], arm, runs[arm], layers) for arm in ["base", *ARMS]}
        per_repeat.append(report.with_matched_recall(recs))
    t = {"repeats": len(per_repeat), "base_steps": info["config"]["steps"],
         "finetune_steps": info["config"]["finetune_steps"], "rescue_steps": info["config"]["rescue_steps"],
         "base": [r["base"] for r in per_repeat], "arms": {arm: [r[arm] for r in per_repeat] for arm in ARMS}}
    t["summary"] = summarise({"base": t["base"], **t["arms"]})
    directed = [(key, d) for _, key, _, d in ROWS if d]
    t["comparisons"] = {f"{a}_vs_{b}": {key: report.compare(t["arms"][b], t["arms"][a], key, d, [t["base"]])
                                        for key, d in directed} for a, b in PAIRS}
    fig = figures.tracking_bars(out / "temporal_tracking.png", ["base", *ARMS], {"base": t["base"], **t["arms"]},
                                report.TITLES)
    render(out, info, t, fig)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    results["temporal"] = {**{k: v for k, v in t.items() if k not in ("base", "arms")},
                           "base": [report.public(r) for r in t["base"]],
                           "arms": {arm: [report.public(r) for r in recs] for arm, recs in t["arms"].items()},
                           "run": {k: info[k] for k in ("command", "commit", "started", "machine", "temporal_reasons")},
                           "temporal_runs": info["temporal"]}
    results_path.write_text(json.dumps(results, indent=1, default=float))
    print(f"wrote {out / 'temporal.md'}, {fig}, the temporal section of {results_path}")


if __name__ == "__main__":
    main()
