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

from bench.evidence import config, decision, figures, metrics, report, validity

ARMS = ["original", "corrected", "unmatched_only", "rescue"]
PAIRS = [("corrected", "original"), ("unmatched_only", "original"), ("corrected", "unmatched_only"),
         ("rescue", "original")]
# (label, key, format, direction for the first arm of a pair: -1 lower is better, +1 higher, 0 none)
TRACK_ROWS = [
    ("ID persistence (consecutive matched frames keeping the ID)", "id_persistence", "{:.3f}", +1),
    ("… consecutive matched frame pairs", "consecutive_matched_pairs", "{:.0f}", 0),
    ("false-positive tracks / frame (tracked, no object within 2 m)", "fp_tracks_per_frame", "{:.1f}", -1),
    ("… frames each such false-positive ID lives", "fp_far_track_lifetime_frames", "{:.2f}", 0),
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


def provenance(data):
    """The commit and start time of the run that computed an inference record (written by infer.py; None in a
    record from before they were written), and the instance-bank settings it ran with."""
    return {"commit": data.get("commit"), "started": data.get("started"), "bank": data.get("bank"),
            "inference_wall_s": data.get("inference_wall_s")}


def field_keys(data):
    """The field's tracking metrics of one inference record (metrics.field_record, without the devkit's raw dict)."""
    return metrics.field_record(data)


_RECORDS = {}  # (infer dir, arm) -> record, computed ahead by ``prefetch``


def prefetch(tasks, workers=2):
    """``record`` of every (infer dir, arm, run, layers) task, ``workers`` processes side by side (the devkit's
    tracking evaluation takes tens of seconds on a full-size record); ``record`` then reads them from here."""
    from concurrent.futures import ProcessPoolExecutor

    tasks = [t for t in tasks if (str(t[0]), t[1]) not in _RECORDS]
    if len(tasks) < 2 or workers < 2:
        return
    with ProcessPoolExecutor(workers) as pool:
        for task, rec in zip(tasks, pool.map(_compute_record, tasks)):
            _RECORDS[(str(task[0]), task[1])] = rec


def _compute_record(task):
    return compute_record(*task)


def record(infer_dir, arm, run, layers):
    """The metrics of one evaluated checkpoint (``compute_record``; from ``prefetch`` when it ran)."""
    import copy

    cached = _RECORDS.get((str(infer_dir), arm))
    return copy.deepcopy(cached) if cached is not None else compute_record(infer_dir, arm, run, layers)


def tasks_of(info, layers):
    """Every (infer dir, arm, run, layers) the sections and the tracker section will read."""
    out = []
    for name in SECTIONS:
        for rep in info.get(name) or []:
            out += [(rep["infer"], run["arm"], run, layers) for run in rep["arms"]
                    if (Path(rep["infer"]) / f"infer_{run['arm']}.json").exists()]
    for rep in info.get("tracker") or []:
        out += [(rep["infer"], arm, entry["run"], layers) for arm, entry in rep["arms"].items()
                if (Path(rep["infer"]) / f"infer_{arm}.json").exists()]
    return out


def compute_record(infer_dir, arm, run, layers):
    rec = report.point_record(infer_dir, arm, run, layers)
    data = json.loads((Path(infer_dir) / f"infer_{arm}.json").read_text())
    rec.update(metrics.tracking_metrics(data))
    rec.update(metrics.temporal_query_diagnostics(data))
    rec.update(training_diagnostics(validity.read_probe(run["probe"]), layers))
    rec.update(metrics.tracking_validity(data, config.TRACKING_FOLLOW_RATIO, config.TRACKING_MIN_PAIRS))
    rec["mota"] = rec["tracking"]["mota"]
    rec.update(field_keys(data))  # the devkit's AMOTA / best MOTA as it computes them (a NaN stays NaN)
    rec.update(provenance(data))
    if run.get("alias_of"):
        rec["alias_of"] = run["alias_of"]
    continued = Path(infer_dir) / "continuity" / f"infer_{arm}.json"
    if continued.exists():
        data_on = json.loads(continued.read_text())
        rec["continuity"] = dict(tracking_keys(data_on), **field_keys(data_on), gate=data_on.get("continuity_gate"),
                                 boxes_identical=metrics.same_boxes(data, data_on), **provenance(data_on))
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
    arms = [arm for arm in ARMS if all(arm in r for r in per_repeat)]  # the arms whose trainings exist
    t = {"not_run": [arm for arm in ARMS if arm not in arms], "repeats": len(per_repeat),
         "base_steps": info["config"]["steps"],
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


def flat(rec, base, continued=False):
    """One setting's record of one repeat for the decision: the continuity object's keys over the record's when
    ``continued`` (IDs change there; boxes, validity and the floor are the checkpoint's)."""
    out = dict(rec)
    if continued:
        out.update(rec.get("continuity") or {})
    out["base_learned"] = base["learned"] if base else True
    return out


def decision_values(stock, setting):
    """(stock, setting) per key of the rule, false positives at one matched recall for the two."""
    keys = [k for k, _ in config.DECISION_WINS] + [k for k, _ in config.DECISION_GUARDS] + ["fp_tracks_all_per_frame"]
    values = {k: (stock.get(k), setting.get(k)) for k in keys}
    recall = min(stock["matched_recall"], setting["matched_recall"])
    values["fp_per_frame_at_matched_recall"] = tuple(
        float("nan") if v is None else v for v in (metrics.fp_at_recall(r["_frames"], recall) for r in (stock, setting)))
    values["id_persistence"] = (stock.get("id_persistence"), setting.get("id_persistence"))
    return values


def decide(sections, tracker=None):
    """config.TRACKER_DECISION_RULE over every setting against stock (the tracker's ``stock`` arm, else the temporal
    scenario's original fine-tune with TAO's IDs: the same checkpoint and settings)."""
    settings = {}  # label -> (per-repeat flat records, instance-bank settings and mode)
    if tracker:
        for arm, recs in tracker["arms"].items():
            finetune, bank, _ = config.TRACKER_ARMS[arm]
            settings[arm] = ([flat(r, b) for r, b in zip(recs, tracker["base"])], {"bank": bank, "mode": finetune})
    for name, t in sections.items():
        for arm in (a for a in DECISION_ARMS if a in t["arms"]):
            for continued in (False, True):
                label = f"{name}: {arm}{' + ID continuity' if continued else ''}"
                bank = dict(config.TRACKER_OFF, id_continuity_gate=config.CONTINUITY_GATE if continued else 0.0)
                mode = "corrected" if arm == config.RESCUE else arm
                settings[label] = ([flat(r, b, continued) for r, b in zip(t["arms"][arm], t["base"])],
                                   {"bank": bank, "mode": mode, "alignment": name == "temporal_align"})
    if tracker and config.TRACKER_STOCK in tracker["arms"]:
        stock_label = config.TRACKER_STOCK
    elif "temporal" in sections and "original" in sections["temporal"]["arms"]:
        stock_label = "temporal: original"
    else:
        return {"rule": config.TRACKER_DECISION_RULE, "stock": None, "settings": {}, "advised": [],
                "defaults": None, "note": "no stock run: nothing to compare with"}
    stock = settings[stock_label][0]
    verdicts, hota = {}, {}
    for label, (recs, _) in settings.items():
        if label in (stock_label, "temporal: original") or len(recs) != len(stock):  # stock itself (either name)
            continue
        repeats = [{"valid": bool(s["learned"] and c["learned"] and s["base_learned"] and c["base_learned"]
                                  and s["tracking_valid"] and c["tracking_valid"]),
                    "values": decision_values(s, c)} for s, c in zip(stock, recs)]
        verdicts[label] = decision.judge(repeats)
        hota[label] = decision.median_hota(recs)
        verdicts[label]["median_hota"] = hota[label]
    chosen = decision.defaults(verdicts, {k: v[1] for k, v in settings.items()}, hota)
    return {"rule": config.TRACKER_DECISION_RULE, "stock": stock_label, "settings": verdicts,
            "advised": chosen["advised"], "defaults": chosen}


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
    if t.get("not_run"):
        lines += ["", "Not run (no training record in this workdir): " + ", ".join(f"`{a}`" for a in t["not_run"]) + "."]
    lines += ["", "## The field's tracking metrics, per repeat (TAO's own IDs | with ID continuity)", "",
              "Every value per repeat (repeat 0 / 1 / ...), a NaN shown as NaN. " + " ".join(info.get("field_metrics_reasons", [])),
              "", "| metric | " + " | ".join(report.TITLES[a] for a in arms) + " |", "|---" + "|---:" * len(arms) + "|"]
    for label, key, spec in FIELD_ROWS:
        for suffix, pick in (("", lambda r: r.get(key)), (", with ID continuity", lambda r: (r.get("continuity") or {}).get(key))):
            lines.append(f"| {label}{suffix} | " + " | ".join(per_repeat([pick(r) for r in arms[a]], spec) for a in arms) + " |")
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


def fmt(value, spec="{:.3f}"):
    if value is None:
        return "–"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return spec.format(value)


def per_repeat(values, spec="{:.3f}"):
    """Every repeat's value, a NaN shown as NaN (never averaged away)."""
    return " / ".join(fmt(v, spec) for v in values)


FIELD_ROWS = [("HOTA", "hota", "{:.3f}"), ("AssA", "assa", "{:.3f}"), ("DetA", "deta", "{:.3f}"), ("IDF1", "idf1", "{:.3f}"),
              ("IDS at the common point", "ids_common", "{:.0f}"), ("MOTA at the common point", "mota_common", "{:.3f}"),
              ("FP track-frames / frame (all FP tracks)", "fp_tracks_all_per_frame", "{:.1f}"),
              ("frames each FP track lives", "fp_track_lifetime_frames", "{:.2f}"),
              ("AMOTA (devkit; NaN: no recall threshold reached)", "amota", "{:.3f}"),
              ("IDS at best MOTA (devkit)", "ids_best", "{:.0f}")]
DECISION_COLUMNS = [("HOTA", "hota", "{:.3f}"), ("IDF1", "idf1", "{:.3f}"), ("IDS (common point)", "ids_common", "{:.0f}"),
                    ("FP track-frames / frame", "fp_tracks_all_per_frame", "{:.1f}"), ("AMOTA", "amota", "{:.3f}"),
                    ("MOTA (common point)", "mota_common", "{:.3f}"),
                    ("FP / frame at matched recall", "fp_per_frame_at_matched_recall", "{:.1f}")]


def render_decision(out, info, result, tracker=None):
    lines = ["# Which setting keeps track IDs: the decision rule applied", "",
             f"Decision rule, fixed before any result was seen: {result['rule']}", "",
             f"Tracking validity rule: {info.get('tracking_validity_rule', '')}", "",
             f"Stock: `{result['stock']}`. Per repeat, stock → setting; a NaN is shown as NaN. `cannot tell`: stock's "
             "value is degenerate (NaN, or AMOTA clipped at 0), never counted as a win nor as 'not worse'.", ""]
    d = result.get("defaults") or {}
    lines += [f"**Advised:** {', '.join(result['advised']) or 'none'}. Defaults the rule gives: "
              f"{'follow `' + d['follows'] + '`' if d.get('follows') else 'no advised setting'}; ID continuity "
              f"{d.get('id_continuity', '?')}; instance bank {d.get('instance_bank')}; background_supervision "
              f"{d.get('background_supervision')}.", ""]
    lines += ["| setting | verdict | " + " | ".join(c for c, _, _ in DECISION_COLUMNS) + " | fails | loses on | cannot tell |",
              "|---|---|" + "---|" * len(DECISION_COLUMNS) + "---|---|---|"]
    for label, v in result["settings"].items():
        cells = []
        for _, key, spec in DECISION_COLUMNS:
            cells.append("; ".join(f"{fmt(r['values'][key]['stock'], spec)} → {fmt(r['values'][key]['setting'], spec)}"
                                   + ("" if r["valid"] else " (inconclusive)") for r in v["repeats"]))
        lines.append(f"| {label} | **{v['verdict']}** | " + " | ".join(cells) + f" | {', '.join(v['fails']) or 'none'} | "
                     f"{', '.join(v['loses_on']) or 'none'} | {', '.join(v['cannot_tell_on']) or 'none'} |")
    lines += ["", "Machine-readable: `tracking_decision` in [results.json](results.json).", ""]
    (out / "tracking.md").write_text("\n".join(lines))


# --- the tracker scenario ----------------------------------------------------------------------------------------

TRACKER_TABLE = [("HOTA", "hota", "{:.3f}"), ("DetA", "deta", "{:.3f}"), ("AssA", "assa", "{:.3f}"),
                 ("IDF1", "idf1", "{:.3f}"), ("IDS, common point", "ids_common", "{:.0f}"),
                 ("MOTA, common point", "mota_common", "{:.3f}"),
                 ("FP track-frames / frame (all FP tracks)", "fp_tracks_all_per_frame", "{:.1f}"),
                 ("frames each FP track lives", "fp_track_lifetime_frames", "{:.2f}"),
                 ("ID persistence", "id_persistence", "{:.3f}"),
                 ("AMOTA (devkit)", "amota", "{:.3f}"), ("AMOTP (devkit)", "amotp", "{:.3f}"),
                 ("MOTA at best threshold (devkit)", "mota", "{:.3f}"), ("IDS at best MOTA (devkit)", "ids_best", "{:.0f}"),
                 ("FRAG at best MOTA (devkit)", "frag_best", "{:.0f}"), ("TID (devkit)", "tid", "{:.2f}"),
                 ("LGD (devkit)", "lgd", "{:.2f}"), ("recall at best MOTA (devkit)", "recall_best", "{:.3f}"),
                 ("detections / frame", "detections_per_frame", "{:.1f}"),
                 ("FP / frame at matched recall", "fp_per_frame_at_matched_recall", "{:.1f}"),
                 ("tracking valid", "tracking_valid", "{}"), ("fine-tune learned (floor rule)", "learned", "{}")]


def tracker_section(info, layers):
    """The tracker scenario's records per repeat: each arm's inference with its settings, metrics of temporal_report.record
    (its fine-tune's floor rule, the field's metrics, validity, provenance); arms not run are named with why."""
    per_repeat, not_run, bases = [], {}, []
    for rep in info["tracker"]:
        recs = {}
        for arm in config.TRACKER_ARMS:
            entry = rep["arms"].get(arm)
            notrun = Path(rep["infer"]) / f"notrun_{arm}.json"
            if entry is None:
                not_run.setdefault(arm, rep["not_run"].get(arm, "not in this run's arms"))
            elif not (Path(rep["infer"]) / f"infer_{arm}.json").exists():
                reason = json.loads(notrun.read_text())["not_run"] if notrun.exists() else "no inference record"
                not_run.setdefault(arm, reason)
            else:
                rec = record(rep["infer"], arm, entry["run"], layers)
                rec.pop("continuity", None)
                recs[arm] = dict(rec, finetune=entry["finetune"], settings=entry["bank"])
        per_repeat.append(report.with_matched_recall(recs) if recs else {})
        base = rep.get("base")
        bases.append({"learned": validity.validity(validity.read_probe(base["probe"]), layers)["learned"]}
                     if base else None)
    arms = [arm for arm in config.TRACKER_ARMS if per_repeat and all(arm in r for r in per_repeat)]
    for arm in config.TRACKER_ARMS:
        if arm not in arms:
            not_run.setdefault(arm, "missing in some repeat")
    return {"repeats": len(per_repeat), "arms": {arm: [r[arm] for r in per_repeat] for arm in arms},
            "base": bases, "not_run": not_run,
            "settings": {arm: {"finetune": config.TRACKER_ARMS[arm][0], "bank": config.TRACKER_ARMS[arm][1],
                               "why": config.TRACKER_ARMS[arm][2]} for arm in config.TRACKER_ARMS}}


def render_tracker(out, info, t):
    lines = ["# Evidence, tracker scenario: a tracker's life cycle in TAO's ID assignment, measured as the field does", "",
             f"Command: `{info['command']}` (TAO {info['tao']}). {t['repeats']} repeat(s). Every value per repeat "
             "(repeat 0 / 1 / ...); a NaN is shown as NaN, never averaged away. Each record names the commit and start "
             "of the run that inferred it (`commit`, `started` in results.json).", "", "## Set-up, fixed before any "
             "result was seen", ""]
    lines += [f"- {r}" for r in info.get("tracker_reasons", [])]
    lines += [f"- {r}" for r in info.get("field_metrics_reasons", [])]
    if t["not_run"]:
        lines += ["", "## Not run", ""] + [f"- `{arm}`: {why}" for arm, why in t["not_run"].items()]
    arms = list(t["arms"])
    lines += ["", "## Per arm, per repeat", "", "| metric | " + " | ".join(f"`{a}`" for a in arms) + " |",
              "|---" + "|---:" * len(arms) + "|"]
    for label, key, spec in TRACKER_TABLE:
        lines.append(f"| {label} | " + " | ".join(per_repeat([r.get(key) for r in t["arms"][a]], spec) for a in arms) + " |")
    lines += ["", "Which setting the rule advises: [tracking.md](tracking.md). Machine-readable: the `tracker` section of "
              "[results.json](results.json).", ""]
    (out / "tracker.md").write_text("\n".join(lines))


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
    results = {}  # this report's sections; the others in results.json stay (report.update_results, at the end)
    prefetch(tasks_of(info, layers))
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
    tracker = None
    if info.get("tracker"):
        tracker = tracker_section(info, layers)
        render_tracker(out, info, tracker)
        results["tracker"] = {**{k: v for k, v in tracker.items() if k not in ("arms", "base")},
                              "arms": {arm: [report.public(r) for r in recs] for arm, recs in tracker["arms"].items()},
                              "run": {k: info.get(k) for k in ("command", "commit", "started", "tracker_reasons",
                                                                "field_metrics_reasons", "decision_rule")},
                              "tracker_runs": info["tracker"]}
        print(f"wrote {out / 'tracker.md'}, the tracker section of {results_path}")
    if sections or tracker:
        results["tracking_decision"] = decide(sections, tracker)
        render_decision(out, info, results["tracking_decision"], tracker)
        print(f"wrote {out / 'tracking.md'}")
    report.update_results(results_path, lambda previous: {**previous, **results})


if __name__ == "__main__":
    main()
