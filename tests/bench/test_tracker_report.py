"""The temporal report's tracker section and decision on made-up runs (bench/evidence/temporal_report.py, metrics venv).

Three repeats of a temporal scenario with only some of its fine-tunes (the others are named "not run"), and a
tracker section whose stock arm gives each object a new ID every frame beside a duplicate, while the candidate keeps
one ID per object and no duplicate: the candidate is advised in every repeat, the field's metrics are on every
temporal record and its continuity object, each record names the commit and start of the run that inferred it, a
stock AMOTA the devkit clips at 0 reads "cannot tell", and an arm that was not run is named with why.

    python3 harness/testenv.py run --tao 6.25.11 -- python -m pytest -q tests/bench/test_tracker_report.py
"""
import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
from bench.evidence import config, runs

FRAMES, OBJECTS = 12, 2
PROVENANCE = {"commit": "abc1234", "started": "2026-12-07 05:00:00 UTC"}


def probe(path, ratio=0.5, steps=10, layers=2):
    path.mkdir(parents=True)
    call = {"loss": ratio * 0.8, "floor": 0.8, "labels": {"0": 3, "2": 20}, "temporal_positives": 1, "fresh_positives": 2}
    dn = {"loss": 0.5, "floor": 0.5, "labels": {"-1": 1}}
    (path / "probe_1.jsonl").write_text("\n".join(json.dumps({"step": s, "calls": [call] * layers + [dn] * layers})
                                                  for s in range(steps)))


def frames(kind, far=False):
    """``kind`` "stock": a new ID per object every frame and a duplicate 0.4 m beside each object (its own ID);
    "tracked": one ID per object, no duplicate. ``far``: every detection 9 m off its object (nothing matched)."""
    out = []
    for i in range(FRAMES):
        gts = [[-3.0 + 0.5 * i, 3.0 * k, 0.5, 0.6, 0.6, 1.7, 0.0] for k in range(OBJECTS)]
        dets, ids = [], []
        for k, g in enumerate(gts):
            shift = 9.0 if far else 0.1
            dets.append([g[0] + shift, g[1], *g[2:]])
            ids.append(100 * (i + 1) + k if kind == "stock" else k)
            if kind == "stock":
                dets.append([g[0] + shift + 0.4, g[1], *g[2:]])
                ids.append(50 + k)
        scores = [0.9 if j % 2 == 0 or kind != "stock" else 0.5 for j in range(len(dets))]
        out.append({"token": f"s_{i}", "scene": "s", "frame_idx": i, "timestamp": 0.2 * i,
                    "det_boxes": dets, "det_scores": scores, "det_cls_scores": scores, "det_labels": [0] * len(dets),
                    "det_ids": ids, "query_scores": scores + [0.01], "query_centres": [d[:3] for d in dets] + [[9, 9, 0.5]],
                    "query_ids": ids + [999], "carried": i > 0, "time_interval": 0.2,
                    "gt_boxes": gts, "gt_names": ["person"] * OBJECTS, "gt_ids": list(range(OBJECTS))})
    return out


def write_infer(path, arm, kind, bank, far=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"arm": arm, "score_threshold": 0.05, "tracking_threshold": 0.2,
                                "classes": ["person", "nova_carter"], "num_temp_instances": 2, "bank": bank,
                                "continuity_gate": bank.get("id_continuity_gate"), "inference_wall_s": 1.0,
                                **PROVENANCE, "frames": frames(kind, far)}))


def run_record(where, name, mode):
    probe(where / f"probe_{name}")
    return {"name": name, "mode": mode, "steps": 10, "results": str(where / name), "probe": str(where / f"probe_{name}"),
            "wall_s": 1.0, "command": "sparse4d train ..."}


def fake_info(tmp):
    temporal, tracker = [], []
    for r in range(3):
        where = tmp / f"repeat{r}" / "temporal"
        infer = where / "infer"
        arms = []
        for arm, kind in (("base", "tracked"), ("original", "stock"), ("corrected", "tracked")):  # no unmatched_only, rescue
            arms.append(dict(run_record(where, arm, "corrected" if arm == "base" else arm), arm=arm))
            write_infer(infer / f"infer_{arm}.json", arm, kind, {"id_continuity_gate": 0.0}, far=(r == 0 and arm == "original"))
            write_infer(infer / "continuity" / f"infer_{arm}.json", arm, kind, {"id_continuity_gate": 1.0},
                        far=(r == 0 and arm == "original"))
        temporal.append({"repeat": r, "arms": arms, "infer": str(infer), "inference_wall_s": 1.0})
        tinfer = tmp / f"repeat{r}" / "tracker" / "infer"
        entries = {}
        for arm, kind in (("stock", "stock"), ("corrected+continuity", "tracked")):
            finetune, bank, _ = config.TRACKER_ARMS[arm]
            entries[arm] = {"finetune": finetune, "bank": bank, "run": next(a for a in arms if a["arm"] == finetune)}
            write_infer(tinfer / f"infer_{arm}.json", arm, kind, bank, far=(r == 0 and arm == "stock"))
        entries["corrected+tracker"] = {"finetune": "corrected", "bank": config.FULL_TRACKER, "run": arms[2]}
        (tinfer / "notrun_corrected+tracker.json").write_text(json.dumps({"not_run": "ConfigKeyError: Key 'track_gate' is not in struct"}))
        tracker.append({"repeat": r, "infer": str(tinfer), "arms": entries, "base": arms[0],
                        "not_run": {"stock+tracker": "no original fine-tune (its training record is missing)"}})
    cfg = dict(config.FULL)
    info = {"quick": False, "command": "python3 bench/evidence --scenarios temporal,tracker", "commit": "later",
            "started": "2026-12-07 06:00:00 UTC", "tao": "6.25.11", "config": cfg, "temporal_reasons": ["a test"],
            "tracking_validity_rule": config.TRACKING_VALIDITY_RULE, "tracker_reasons": ["a test"],
            "field_metrics_reasons": ["a test"], "machine": {}, "temporal": temporal, "temporal_align": [],
            "tracker": tracker}
    (tmp / "run_info.json").write_text(json.dumps(info))
    return tmp / "run_info.json"


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tracker_report")
    info = fake_info(tmp)
    out = tmp / "out"
    done = subprocess.run([str(runs.metrics_venv()), "-m", "bench.evidence.temporal_report", "--info", str(info),
                           "--out", str(out)], capture_output=True, text=True, env=runs.clean_env(), cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, json.loads((out / "results.json").read_text())


def test_missing_trainings_are_named_not_run(reported):
    out, results = reported
    t = results["temporal"]
    assert list(t["arms"]) == ["original", "corrected"] and t["not_run"] == ["unmatched_only", "rescue"]
    assert "Not run (no training record in this workdir): `unmatched_only`, `rescue`." in (out / "temporal.md").read_text()
    tracker = results["tracker"]
    assert list(tracker["arms"]) == ["stock", "corrected+continuity"] and tracker["repeats"] == 3
    assert tracker["not_run"]["corrected+tracker"].startswith("ConfigKeyError")
    assert tracker["not_run"]["stock+tracker"].startswith("no original fine-tune")
    assert "- `corrected+tracker`: ConfigKeyError" in (out / "tracker.md").read_text()


def test_every_record_carries_the_field_metrics_and_the_run_that_inferred_it(reported):
    _, results = reported
    keys = {"hota", "assa", "deta", "idf1", "ids_common", "fp_tracks_all_per_frame", "fp_track_lifetime_frames"}
    for record in [*results["temporal"]["base"], *[r for recs in results["temporal"]["arms"].values() for r in recs]]:
        assert keys <= set(record) and keys <= set(record["continuity"])
        assert (record["commit"], record["started"]) == (PROVENANCE["commit"], PROVENANCE["started"])  # not the report's run
    for recs in results["tracker"]["arms"].values():
        for record in recs:
            assert keys | {"id_persistence", "tracking_valid", "commit", "started"} <= set(record)
            assert record["commit"] == PROVENANCE["commit"]
    stock = results["tracker"]["arms"]["stock"]
    assert stock[1]["ids_common"] > 0 and stock[1]["fp_tracks_all_per_frame"] == pytest.approx(OBJECTS)
    assert stock[1]["fp_track_lifetime_frames"] == pytest.approx(FRAMES)  # each duplicate lives the whole scene
    tracked = results["tracker"]["arms"]["corrected+continuity"][1]
    assert tracked["ids_common"] == 0 and tracked["idf1"] == pytest.approx(1.0) and tracked["fp_tracks_all_per_frame"] == 0


def test_a_degenerate_stock_repeat_cannot_be_won_and_the_rest_is_judged(reported):
    _, results = reported
    decision = results["tracking_decision"]
    assert decision["stock"] == "stock" and "temporal: original" not in decision["settings"]
    verdict = decision["settings"]["corrected+continuity"]
    first = verdict["repeats"][0]  # stock matched nothing in repeat 0: it fails the tracking validity rule there
    assert first["valid"] is False and verdict["inconclusive_repeats"] == 1
    assert first["values"]["amota"]["stock"] == 0.0 and first["guards"]["amota"] == "cannot tell"
    assert verdict["verdict"] == "inconclusive" and verdict["fails"] == [] and decision["advised"] == []
    assert all(r["must_win"] == {"hota": "better", "idf1": "better", "ids_common": "better",
                                 "fp_tracks_all_per_frame": "better"} for r in verdict["repeats"][1:])
    for rep in verdict["repeats"][1:]:
        assert rep["guards"]["mota_common"] == "better"
        # stock's AMOTA is clipped at 0 here too (an ID switch every frame): the guard reads "cannot tell", not a pass
        assert rep["values"]["amota"]["stock"] == 0.0 and rep["guards"]["amota"] == "cannot tell"
        assert rep["guards"]["fp_per_frame_at_matched_recall"] in ("better", "same")
    assert decision["defaults"]["instance_bank"] == {"id_continuity_gate": 0.0}  # nothing advised: continuity off
    text = (Path(reported[0]) / "tracking.md").read_text()
    assert "| corrected+continuity | **inconclusive** |" in text and "(inconclusive)" in text
