#!/usr/bin/env python
"""The temporal scenarios' metrics, validity, tables, figures and tracking decision (runs in the metrics venv).

Reads what ``python3 bench/evidence`` left for the temporal and temporal_align scenarios (per-frame
records of infer.py with TAO's own IDs and with ID continuity, loss-call records of probe.py),
writes ``temporal.md`` / ``temporal_align.md`` with a tracking figure each, ``tracking.md`` (the
tracking validity rule and config.DECISION_RULE applied to every setting), and adds the
``temporal`` / ``temporal_align`` sections and ``tracking_decision`` to ``results.json`` (keeping
every other section). Comparisons follow the evidence's rule: a repeat counts only where both
arms and the base left their floor.

    python -m bench.evidence.temporal_report --info WORK/run_info.json --out docs/evidence
"""
import argparse
import json
import math
from pathlib import Path

import numpy as np

from bench.evidence import config, figures, metrics, report, validity

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


def tracking_keys(data):
    """config.TRACKING_KEYS of one inference record."""
    out = metrics.tracking_metrics(data)
    tracking = metrics.nuscenes_tracking(data)
    out.update(amota=tracking["amota"], mota=tracking["mota"], ids_per_gt_nuscenes=tracking["ids_per_gt"],
               id_switches_per_matched_gt=metrics.arm_metrics(data)["id_switches_per_matched_gt"])
    return {key: out[key] for key in config.TRACKING_KEYS}


def record(infer_dir, arm, run, layers):
    rec = report.point_record(infer_dir, arm, run, layers)
    data = json.loads((Path(infer_dir) / f"infer_{arm}.json").read_text())
    rec.update(metrics.tracking_metrics(data))
    rec.update(metrics.temporal_query_diagnostics(data))
    rec.update(training_diagnostics(validity.read_probe(run["probe"]), layers))
    rec.update(metrics.tracking_validity(data, config.TRACKING_FOLLOW_RATIO, config.TRACKING_MIN_PAIRS))
    rec["mota"] = rec["tracking"]["mota"]
    continued = Path(infer_dir) / "continuity" / f"infer_{arm}.json"
    if continued.exists():
        data_on = json.loads(continued.read_text())
        rec["continuity"] = dict(tracking_keys(data_on), gate=data_on.get("continuity_gate"),
                                 boxes_identical=metrics.same_boxes(data, data_on))
    return rec


def summarise(records):
    return {arm: {key: report.spread([r.get(key) for r in recs]) for _, key, _, _ in ROWS} for arm, recs in records.items()}


SECTIONS = {"temporal": "Evidence, temporal scenario: tracking on crossing scenes",
            "temporal_align": "Evidence, temporal_align scenario: TAO's temporal alignment, repaired, on crossing scenes"}
CONTINUITY_ROWS = [
    ("with ID continuity: ID persistence", "id_persistence", "{:.3f}", +1),
    ("with ID continuity: false-positive tracks / frame", "fp_tracks_per_frame", "{:.1f}", -1),
    ("with ID continuity: fragments / ground-truth track", "fragments_per_gt_track", "{:.2f}", -1),
    ("with ID continuity: ID switches / matched box", "id_switches_per_matched_gt", "{:.3f}", -1),
    ("with ID continuity: AMOTA (nuscenes-devkit)", "amota", "{:.3f}", +1),
]
VALIDITY_ROWS = [
    ("tracking valid (matched detections follow their objects)", "tracking_valid", "{:.0%}", 0),
    ("… median move of matched detections / of their objects", "follow_ratio", "{:.2f}", 0),
]
DECISION_ARMS = ["corrected", "unmatched_only", "rescue", "original"]


def section(info, name, layers):
    """One temporal scenario's records per repeat (with false positives at one matched recall), summary, comparisons."""
    per_repeat = []
    for rep in info[name]:
        runs = {run["arm"]: run for run in rep["arms"]}
        per_repeat.append(report.with_matched_recall(
            {arm: record(rep["infer"], arm, runs[arm], layers) for arm in ["base", *ARMS] if arm in runs}))
    arms = [arm for arm in ARMS if arm in per_repeat[0]]  # temporal_align: config.ALIGN_MODES only
    t = {"repeats": len(per_repeat), "base_steps": info["config"]["steps"],
         "finetune_steps": info["config"]["finetune_steps"], "rescue_steps": info["config"]["rescue_steps"],
         "base": [r["base"] for r in per_repeat], "arms": {arm: [r[arm] for r in per_repeat] for arm in arms}}
    everything = {"base": t["base"], **t["arms"]}
    t["summary"] = summarise(everything)
    for arm, recs in everything.items():
        t["summary"][arm].update({f"continuity.{key}": report.spread([(r.get("continuity") or {}).get(key) for r in recs])
                                  for _, key, _, _ in CONTINUITY_ROWS})
        t["summary"][arm].update({key: report.spread([float(r[key]) if r.get(key) is not None else None for r in recs])
                                  for _, key, _, _ in VALIDITY_ROWS})
    directed = [(key, d) for _, key, _, d in ROWS if d]
    t["comparisons"] = {f"{a}_vs_{b}": {key: report.compare(t["arms"][b], t["arms"][a], key, d, [t["base"]])
                                        for key, d in directed} for a, b in PAIRS if a in arms and b in arms}
    return t


def setting_value(rec, key, continued):
    """``key`` of a record, from its continuity evaluation when ``continued`` (IDs only change there)."""
    if continued and key in config.TRACKING_KEYS:
        return (rec.get("continuity") or {}).get(key)
    return rec.get(key)


def decide(sections):
    """config.DECISION_RULE over every setting against stock (temporal's original fine-tune, TAO's IDs)."""
    stock, bases = sections["temporal"]["arms"]["original"], sections["temporal"]["base"]
    out = {}
    for name, t in sections.items():
        for arm in (a for a in DECISION_ARMS if a in t["arms"]):
            for continued in (False, True):
                if (name, arm, continued) == ("temporal", "original", False):
                    continue
                label = f"{arm}{' + alignment' if name == 'temporal_align' else ''}{' + ID continuity' if continued else ''}"
                out[label] = judge(stock, t["arms"][arm], bases, continued)
    return out


def judge(stock, candidate, bases, continued):
    """One setting's verdict and its per-repeat facts."""
    repeats, valid, beats, worse = [], True, True, {key: 0 for key, _ in LOSS_KEYS}
    for s, c, b in zip(stock, candidate, bases):
        ok = s["learned"] and c["learned"] and b["learned"] and s["tracking_valid"] and c["tracking_valid"]
        values = {key: (setting_value(s, key, False), setting_value(c, key, continued))
                  for key in ("id_persistence", "fp_tracks_per_frame", *(k for k, _ in LOSS_KEYS))}
        recall = min(s["matched_recall"], c["matched_recall"])  # the sections matched recall apart
        values["fp_per_frame_at_matched_recall"] = tuple(metrics.fp_at_recall(r["_frames"], recall) for r in (s, c))
        persist, fp_tracks = values["id_persistence"], values["fp_tracks_per_frame"]
        wins = None not in persist and persist[1] > persist[0] and fp_tracks[1] < fp_tracks[0]
        for key, direction in LOSS_KEYS:
            a, c_value = values[key]
            if a is not None and c_value is not None and (c_value - a) * direction < 0 and not math.isclose(a, c_value):
                worse[key] += 1
        valid &= ok
        beats &= wins
        repeats.append({"valid": ok, "beats_stock": wins, **{k: {"stock": v[0], "setting": v[1]} for k, v in values.items()}})
    majority = len(repeats) // 2 + 1
    loses = [key for key, n in worse.items() if n >= majority]
    verdict = ("inconclusive" if not valid else "advised" if beats and not loses else "not advised")
    return {"verdict": verdict, "beats_stock_every_repeat": beats, "loses_on": loses, "repeats": repeats}


LOSS_KEYS = [("amota", +1), ("ids_per_gt_nuscenes", -1), ("fp_per_frame_at_matched_recall", -1)]


def render_section(out, info, name, t, fig):
    cfg = info["config"]
    n = t["repeats"]
    arms = {"base": t["base"], **t["arms"]}
    lines = [f"# {SECTIONS[name]}", "",
             f"Command: `{info['command']}` (TAO {info['tao']}, commit {info['commit']}, started {info['started']}). "
             f"{n} repeats; mean (min–max) over repeats. Base: {cfg['steps']} steps of `corrected` on crossing "
             f"scenes; each fine-tune {cfg['finetune_steps']} steps from it; rescue {cfg['rescue_steps']} steps "
             "from the stock fine-tune.", "", "## Set-up, fixed before any result was seen", ""]
    lines += [f"- {r}" for r in info["temporal_reasons"]]
    if name == "temporal_align":
        lines += [f"- {r}" for r in info.get("temporal_align_reasons", [])]
    lines += [f"- {r}" for r in info.get("continuity_reasons", [])]
    lines += [f"- Tracking validity: {info.get('tracking_validity_rule', '')}"]
    lines += ["", "## Did each run learn? (the floor rule)", ""] + report.validity_table(arms, n)
    summary = t["summary"]
    lines += ["", "## Detection and tracking on held-out crossing scenes", ""]
    table = ["| metric | " + " | ".join(report.TITLES[a] for a in arms) + " |", "|---" + "|---:" * len(arms) + "|"]
    rows = ROWS + [(label, key, fmt, d) for label, key, fmt, d in VALIDITY_ROWS] + [
        (label, f"continuity.{key}", fmt, d) for label, key, fmt, d in CONTINUITY_ROWS]
    for label, key, fmt, _ in rows:
        table.append(f"| {label} | " + " | ".join(report.cell(summary[a].get(key), fmt) for a in arms) + " |")
    lines += table
    lines += ["", "## Comparisons, TAO's own IDs (a repeat counts only where both arms and the base left their floor)", ""]
    cols = [(f"{report.TITLES[a]} vs {report.TITLES[b]}", f"{a}_vs_{b}") for a, b in PAIRS if f"{a}_vs_{b}" in t["comparisons"]]
    lines += ["| metric | " + " | ".join(c for c, _ in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for label, key, _, direction in ROWS:
        if direction:
            lines.append(f"| {label} ({'lower' if direction < 0 else 'higher'} is better) | "
                         + " | ".join(report.verdict(t["comparisons"][c][key]) for _, c in cols) + " |")
    lines += ["", f"![ID persistence and false-positive tracks per arm]({fig.name})", "",
              f"Machine-readable numbers: the `{name}` section of [results.json](results.json). Which setting to use "
              "for tracking: [tracking.md](tracking.md).", ""]
    (out / f"{name}.md").write_text("\n".join(lines))


def fmt(value, spec="{:.3f}"):
    return "–" if value is None else spec.format(value)


def render_decision(out, info, decision):
    lines = ["# Which setting keeps track IDs: the decision rule applied", "",
             f"Decision rule, fixed before any result was seen: {info.get('decision_rule', '')}", "",
             f"Tracking validity rule: {info.get('tracking_validity_rule', '')}", "",
             "| setting | verdict | ID persistence, per repeat (stock → setting) | false-positive tracks / frame | "
             "loses on |", "|---|---|---|---|---|"]
    for label, d in decision.items():
        persist = "; ".join(f"{fmt(r['id_persistence']['stock'])} → {fmt(r['id_persistence']['setting'])}"
                            + ("" if r["valid"] else " (invalid)") for r in d["repeats"])
        tracks = "; ".join(f"{fmt(r['fp_tracks_per_frame']['stock'], '{:.1f}')} → "
                           f"{fmt(r['fp_tracks_per_frame']['setting'], '{:.1f}')}" for r in d["repeats"])
        lines.append(f"| {label} | **{d['verdict']}** | {persist} | {tracks} | {', '.join(d['loses_on']) or 'none'} |")
    lines += ["", "Machine-readable: `tracking_decision` in [results.json](results.json).", ""]
    (out / "tracking.md").write_text("\n".join(lines))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--info", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    info = json.loads(Path(a.info).read_text())
    layers = info["config"]["decoder_layers"]
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    sections = {}
    for name in SECTIONS:
        if not info.get(name):
            continue
        t = sections[name] = section(info, name, layers)
        fig = figures.tracking_bars(out / f"{name}_tracking.png", ["base", *t["arms"]], {"base": t["base"], **t["arms"]},
                                    report.TITLES)
        render_section(out, info, name, t, fig)
        results[name] = {**{k: v for k, v in t.items() if k not in ("base", "arms")},
                         "base": [report.public(r) for r in t["base"]],
                         "arms": {arm: [report.public(r) for r in recs] for arm, recs in t["arms"].items()},
                         "run": {k: info.get(k) for k in ("command", "commit", "started", "machine", "temporal_reasons",
                                                           "temporal_align_reasons", "continuity_reasons",
                                                           "tracking_validity_rule", "decision_rule")},
                         f"{name}_runs": info[name]}
        print(f"wrote {out / (name + '.md')}, {fig}, the {name} section of {results_path}")
    if "temporal" in sections:
        results["tracking_decision"] = decide(sections)
        render_decision(out, info, results["tracking_decision"])
        print(f"wrote {out / 'tracking.md'}")
    results_path.write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
