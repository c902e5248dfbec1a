"""Smoke test of the evidence benchmark: ``python3 bench/evidence --quick`` end to end.

Every scenario (one repeat) from the smallest TAO runs that show the pipeline: TAO's own ``sparse4d train`` on the
CPU for the scratch corrected arm (the base) and one fine-tune from it with TAO's step checkpoints (the transfer
scenario's original); every other training of a repeat reuses one of these (QUICK's shared trainings, record
``alias_of``; alignment's training through TAO: tests/e2e/test_temporal_align_train.py). Inference (one TAO process per repeat and family, an
identical checkpoint and setting inferred once), TAO's own results_nusc.json, the nuscenes-devkit, TrackEval and
py-motmetrics metrics, the tracker scenario's arms through the plugin's instance-bank keys. Checks the shape of what
it publishes and its validity labels -- never the effect: a comparison counts only the repeats where every run
involved left its floor (a few steps rarely do; the aggregation over several repeats: test_evidence_validity.py;
the decision rule: test_tracking_decision.py). About 2 minutes on an idle 2-core machine; marked e2e.

    python3 harness/testenv.py run --tao 6.25.11 -- python -m pytest -q tests/bench
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
from bench.evidence import config

pytestmark = pytest.mark.e2e

REPEATS = config.QUICK["repeats"]
FIGURES = ["transfer_curves.png", "transfer_threshold_curves.png", "transfer_floor_ratio.png",
           "transfer_far_query_scores.png", "scratch_threshold_curves.png", "scratch_floor_ratio.png"]
RECORD_KEYS = ["detections_per_frame", "fp_per_frame", "fp_per_frame_at_matched_recall", "precision_2m", "recall_2m",
               "far_detections_per_frame", "far_query_score_median", "new_ids_per_frame", "id_switches_per_matched_gt",
               "learned", "floor_ratio", "validity", "threshold_curve", "ap", "steps_run", "untracked_per_frame"]
INCONCLUSIVE = "inconclusive (an arm at its floor in every repeat)"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("evidence")
    out, work = root / "out", root / "work"
    done = subprocess.run([sys.executable, str(REPO / "bench" / "evidence"), "--quick", "--out", str(out),
                           "--workdir", str(work)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=2400, cwd=REPO)
    assert done.returncode == 0, done.stdout[-6000:]
    return out, work, json.loads((out / "results.json").read_text()), (out / "report.md").read_text()


def section(report, title):
    body = report.split(f"## {title}", 1)[1].split("\n## ", 1)[0].split("\n# ", 1)[0]
    return [line for line in body.splitlines() if line.startswith("|")]


def cells(line):
    return [c.strip() for c in line.strip("|").split("|")]


def test_every_run_of_both_scenarios_gets_a_validity_label(quick_run):
    _, _, results, report = quick_run
    t = results["transfer"]
    for title, records in (("1. Is each run conclusive?", {"base": t["base"], **t["arms"]}),
                           ("6. Is each run conclusive?", results["arms"])):
        lines = section(report, title)
        assert cells(lines[0])[1:1 + REPEATS] == [f"repeat {i}" for i in range(REPEATS)]
        labelled = [cells(line)[1:1 + REPEATS] for line in lines[2:]]
        assert len(labelled) == len(records), title
        for labels, recs in zip(labelled, records.values()):
            for label, record in zip(labels, recs):
                assert label.startswith("learned (" if record["learned"] else "NOT BELOW ITS FLOOR ("), (title, label)


def test_comparisons_count_only_repeats_where_every_run_involved_left_its_floor(quick_run):
    """The report claims an effect only from repeats where both arms (and, in transfer, the base) learned.

    Derived from each record's own ``learned`` flag, so it holds whatever a few steps of
    training did: in this run the bases stay at their floor, so every transfer cell must
    read inconclusive, while a fine-tune (the rescue, say) may by chance dip below its own.
    """
    _, _, results, report = quick_run
    t = results["transfer"]
    for title, records, required in (("3. Repeat by repeat", t["arms"], [t["base"]]),
                                     ("8. Repeat by repeat", results["arms"], [])):
        lines = section(report, title)
        assert len(lines) > 4, title
        columns = [column.split(" vs ") for column in cells(lines[0])[1:]]
        assert columns, title
        for line in lines[2:]:
            for (other, base), cell in zip(columns, cells(line)[1:]):
                invalid = sum(not (records[other][i]["learned"] and records[base][i]["learned"]
                                   and all(req[i]["learned"] for req in required)) for i in range(REPEATS))
                if invalid == REPEATS:
                    assert cell == INCONCLUSIVE, (title, line)
                elif invalid:
                    assert cell.endswith(f"; {invalid} inconclusive"), (title, cell)
                else:
                    assert "inconclusive" not in cell, (title, cell)
    assert not any(b["learned"] for b in t["base"]), "the quick bases are expected at their floor (3 steps)"
    for i, rescue in enumerate(t["rescue"]):
        expected = not (t["base"][i]["learned"] and t["arms"]["rescue"][i]["learned"])
        assert (rescue["verdict"] == "inconclusive") == expected, rescue


def test_results_json_holds_both_scenarios_one_record_per_repeat(quick_run):
    _, _, results, _ = quick_run
    cfg = results["run"]["config"]
    assert results["repeats"] == REPEATS and list(results["arms"]) == list(config.MODES)
    t = results["transfer"]
    assert (t["repeats"], t["base_steps"], t["finetune_steps"]) == (REPEATS, cfg["steps"], cfg["finetune_steps"])
    assert list(t["arms"]) == [*config.MODES, config.RESCUE] and len(t["base"]) == REPEATS
    steps = {"original": cfg["finetune_steps"], "corrected": cfg["finetune_steps"],
             "unmatched_only": cfg["finetune_steps"], "rescue": cfg["rescue_steps"]}
    for arm, recs in [*results["arms"].items(), *t["arms"].items(), ("base", t["base"])]:
        assert len(recs) == REPEATS, arm
        for record in recs:
            assert set(RECORD_KEYS) <= set(record), (arm, set(RECORD_KEYS) - set(record))
            assert isinstance(record["learned"], bool)
            assert 0.0 <= record["precision_2m"] <= 1.0 and 0.0 <= record["recall_2m"] <= 1.0
            assert record["detections_per_frame"] <= cfg["anchors"]
            assert record["floor_ratio"] > 0 and math.isfinite(record["floor_ratio"])
    for arm, recs in t["arms"].items():
        assert {r["steps_run"] for r in recs} == {steps[arm]}, arm
    for arm in ("original", "corrected", "rescue"):
        for points in t["curves"][arm]:
            offset = cfg["finetune_steps"] if arm == "rescue" else 0
            assert [p["step"] for p in points] == [offset] + [offset + s for s in cfg["curve_steps"]], arm
    # step 0 of both fine-tune curves is the base itself
    assert t["curves"]["original"][0][0]["detections_per_frame"] == t["base"][0]["detections_per_frame"]


def test_report_and_figures(quick_run):
    out, _, _, report = quick_run
    assert "QUICK smoke run" in report
    assert report.index("# Part A: transfer learning") < report.index("# Part B: from scratch")
    for fig in FIGURES:
        assert f"]({fig})" in report
        data = (out / fig).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", fig
        assert 5_000 < len(data) < 300_000, (fig, len(data))


def trained(work, repeat, scenario, arm):
    """The run's record, and whether TAO trained it here (QUICK: the others reuse a shared run, ``alias_of``)."""
    record = json.loads((work / f"repeat{repeat}" / scenario / f"{arm}.record.json").read_text())
    return record, not record.get("alias_of")


def test_each_run_ran_tao_with_its_mode_and_start(quick_run):
    """QUICK trains per repeat the base and one fine-tune (and one with alignment); every other run names the run it
    reuses. The plugin's line in each TAO training log names the mode the override asked for; fine-tunes start from
    TAO checkpoints."""
    _, work, _, _ = quick_run
    for repeat in range(REPEATS):
        real = []
        for scenario, arm, mode in [*(("scratch", m, m) for m in config.MODES),
                                    *(("transfer", m, m) for m in config.MODES), ("transfer", "rescue", "corrected"),
                                    ("temporal", "base", "corrected"), *(("temporal", m, m) for m in config.MODES),
                                    ("temporal", "rescue", "corrected"), *(("temporal_align", m, m) for m in config.MODES),
                                    ("temporal_align", "rescue", "corrected")]:
            record, here = trained(work, repeat, scenario, arm)
            assert record["mode"] == mode, (scenario, arm)
            if not here:
                assert Path(record["alias_of"]).is_dir() and "QUICK: not trained" in record["command"], (scenario, arm)
                continue
            real.append((scenario, arm))
            log = (work / f"repeat{repeat}" / scenario / f"{arm}.train.log").read_text()
            assert f"background_supervision {mode} (from override)" in log, (repeat, scenario, arm)
            assert "Execution status: PASS" in log, (repeat, scenario, arm)
            if scenario != "scratch":
                assert "Detected TAO pipeline checkpoint format" in log, (repeat, arm)
        assert real == [("scratch", "corrected"), ("transfer", "original")], real


def test_tao_results_files_written_and_checkpoints_removed(quick_run):
    _, work, _, _ = quick_run
    nusc = work / "repeat0" / "nusc" / "transfer" / "infer"
    for name in ("original", "original@2", "corrected", "unmatched_only", "rescue", "rescue@2"):
        for mode in ("detection", "tracking"):
            data = json.loads((nusc / name / mode / "img_bbox" / "results_nusc.json").read_text())
            assert set(data) == {"meta", "results"} and data["results"], (name, mode)
    assert not list(work.rglob("*.pth"))


FIELD_KEYS = ["hota", "assa", "deta", "idf1", "ids_common", "fp_tracks_all_per_frame", "fp_track_lifetime_frames",
              "mota_common", "amota", "amotp", "mota", "ids_best", "frag_best", "tid", "lgd", "recall_best"]
TEMPORAL_KEYS = ["id_persistence", "fp_tracks_per_frame", "fragments_per_gt_track", "minus1_rows_per_step",
                 "fp_far_track_lifetime_frames", "objects_best_query_temporal_share", "train_temporal_match_share",
                 "learned", "floor_ratio", "fp_per_frame_at_matched_recall", "commit", "started", *FIELD_KEYS]


def test_temporal_section_one_record_per_repeat_with_the_tracking_keys(quick_run):
    out, work, results, _ = quick_run
    cfg = results["run"]["config"]
    t = results["temporal"]
    repeats = config.QUICK["temporal_repeats"]
    assert t["repeats"] == repeats and list(t["arms"]) == list(config.TEMPORAL_ARMS) and len(t["base"]) == repeats
    for arm, recs in [("base", t["base"]), *t["arms"].items()]:
        assert len(recs) == repeats, arm
        for record in recs:
            assert set(TEMPORAL_KEYS) <= set(record), (arm, set(TEMPORAL_KEYS) - set(record))
            assert record["minus1_rows_per_step"] >= 0 and record["steps_run"] == (
                cfg["steps"] if arm == "base" else cfg["rescue_steps"] if arm == "rescue" else cfg["finetune_steps"])
            assert record["id_persistence"] is None or 0.0 <= record["id_persistence"] <= 1.0
    for arm, recs in [("base", t["base"]), *t["arms"].items()]:
        for record in recs:  # the run that inferred it: this one (not a resume)
            assert (record["commit"], record["started"]) == (results["run"]["commit"], results["run"]["started"]), arm
            assert set(FIELD_KEYS) <= set(record["continuity"]), arm
            assert 0.0 <= record["hota"] <= 1.0 and 0.0 <= record["idf1"] <= 1.0 and record["ids_common"] >= 0
    temporal_md = (out / "temporal.md").read_text()
    assert "The field's tracking metrics, per repeat" in temporal_md
    lines = section(temporal_md, "Did each run learn? (the floor rule)")
    for line, (arm, recs) in zip(lines[2:], [("base", t["base"]), *t["arms"].items()]):
        for label, record in zip(cells(line)[1:1 + repeats], recs):
            assert label.startswith("learned (" if record["learned"] else "NOT BELOW ITS FLOOR ("), (arm, label)
    assert (out / "temporal_tracking.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_temporal_checkpoint_is_also_inferred_with_id_continuity(quick_run):
    """Continuity changes IDs only: the same boxes both ways; each record says whether its detections follow."""
    _, work, results, _ = quick_run
    for name in ("temporal", "temporal_align"):
        t = results[name]
        for arm, recs in [("base", t["base"]), *t["arms"].items()]:
            for record in recs:
                continued = record["continuity"]
                assert set(config.TRACKING_KEYS) <= set(continued), (name, arm)
                assert continued["gate"] == config.CONTINUITY_GATE and continued["boxes_identical"] is True
                assert isinstance(record["tracking_valid"], bool) and "follow_ratio" in record
        frames = json.loads((work / "repeat0" / name / "infer" / "continuity" / "infer_corrected.json").read_text())
        assert frames["continuity_gate"] == config.CONTINUITY_GATE


def test_temporal_align_fine_tunes_the_temporal_bases_with_alignment(quick_run):
    out, work, results, _ = quick_run
    t = results["temporal_align"]
    assert list(t["arms"]) == [*config.ALIGN_MODES, config.RESCUE] and t["repeats"] == config.QUICK["temporal_repeats"]
    assert t["not_run"] == []
    base, _ = trained(work, 0, "temporal", "base")  # QUICK: the shared scratch run
    for arm in config.ALIGN_MODES:  # QUICK reuses the shared fine-tune; the record names the command it stands for
        record, _ = trained(work, 0, "temporal_align", arm)
        assert "model.use_temporal_align=true" in record["command"]
        assert f"train.pretrained_model_path={base['results']}/train/" in record["command"]  # the temporal base
    assert (out / "temporal_align.md").exists() and (out / "temporal_align_tracking.png").exists()


def test_the_decision_rule_gives_every_setting_a_verdict(quick_run):
    out, _, results, _ = quick_run
    decision = results["tracking_decision"]
    assert decision["rule"] == config.TRACKER_DECISION_RULE and decision["stock"] == config.TRACKER_STOCK
    expected = {f"temporal: {arm}{' + ID continuity' if on else ''}" for arm in config.TEMPORAL_ARMS for on in (False, True)}
    expected |= {f"temporal_align: {arm}{' + ID continuity' if on else ''}" for arm in config.TEMPORAL_ARMS
                 for on in (False, True)}
    expected |= set(results["tracker"]["arms"])
    assert set(decision["settings"]) == expected - {"temporal: original", config.TRACKER_STOCK}  # stock itself
    for verdict in decision["settings"].values():
        assert verdict["verdict"] in ("advised", "not advised", "inconclusive")
        assert len(verdict["repeats"]) == config.QUICK["temporal_repeats"]
        for rep in verdict["repeats"]:
            assert set(rep["must_win"]) == {"hota", "idf1", "ids_common", "fp_tracks_all_per_frame"}
            assert set(rep["guards"]) == {"amota", "mota_common", "fp_per_frame_at_matched_recall"}
    assert decision["advised"] == [k for k, v in decision["settings"].items() if v["verdict"] == "advised"]
    assert "id_continuity_gate" in decision["defaults"]["instance_bank"]
    assert "Decision rule, fixed before any result was seen" in (out / "tracking.md").read_text()


# The plugin's tracker keys (model.head.instance_bank.track_*) are in TAO's schema once the plugin that adds them is
# installed; until then corrected+tracker is reported "not run". Set True once the product has them (it must).
TRACKER_KEYS_REQUIRED = True


def test_the_tracker_section_runs_its_arms_through_the_plugins_instance_bank_keys(quick_run):
    out, work, results, _ = quick_run
    t = results["tracker"]
    arms = config.QUICK["tracker_arms"]
    assert t["repeats"] == config.QUICK["temporal_repeats"]
    assert set(t["not_run"]) == set(config.TRACKER_ARMS) - set(t["arms"])
    assert {"stock", "corrected+continuity"} <= set(t["arms"])
    if TRACKER_KEYS_REQUIRED:
        assert set(t["arms"]) == set(arms), t["not_run"]
    for arm, recs in t["arms"].items():
        finetune, settings, _ = config.TRACKER_ARMS[arm]
        for record in recs:
            assert set(FIELD_KEYS) <= set(record) and record["settings"] == settings and record["finetune"] == finetune
            assert {"id_persistence", "tracking_valid", "learned"} <= set(record), arm
            assert (record["commit"], record["started"]) == (results["run"]["commit"], results["run"]["started"])
            assert record["bank"] == settings  # what infer.py set on model.head.instance_bank
    frames = json.loads((work / "repeat0" / "tracker" / "infer" / "infer_corrected+continuity.json").read_text())
    assert frames["bank"] == dict(config.TRACKER_OFF, id_continuity_gate=config.CONTINUITY_GATE)  # every key named
    assert frames["bank_effective"]["id_continuity_gate"] == config.CONTINUITY_GATE
    continuity = results["temporal"]["arms"]["corrected"][0]["continuity"]
    assert t["arms"]["corrected+continuity"][0]["hota"] == continuity["hota"]  # the same checkpoint and setting
    if "corrected+tracker" in t["arms"]:
        effective = json.loads((work / "repeat0" / "tracker" / "infer" / "infer_corrected+tracker.json").read_text())
        assert {k: effective["bank_effective"][k] for k in config.FULL_TRACKER} == config.FULL_TRACKER
    tracker_md = (out / "tracker.md").read_text()
    assert "## Per arm, per repeat" in tracker_md and all(f"`{arm}`" in tracker_md for arm in t["arms"])


def test_a_resumed_run_reuses_every_finished_run(quick_run):
    """Each run's record is saved as it ends: the same command on the same workdir trains nothing again."""
    out, work, results, _ = quick_run
    done = subprocess.run([sys.executable, str(REPO / "bench" / "evidence"), "--quick", "--scenarios", "temporal",
                           "--out", str(out), "--workdir", str(work)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=900, cwd=REPO)
    assert done.returncode == 0, done.stdout[-4000:]
    assert "done before, reused" in done.stdout and ": done in" not in done.stdout.split("metrics, validity")[0]
    # a resume that inferred nothing keeps the commit and start of the run that computed each record
    first = results["run"]["started"]
    again = json.loads((out / "results.json").read_text())
    assert again["temporal"]["run"]["started"] != first  # the resume is another invocation
    for recs in again["temporal"]["arms"].values():
        for record in recs:
            assert record["started"] == first and record["continuity"]["started"] == first
            assert record["inference_wall_s"] > 0
