"""bench/evidence/metrics.py: the temporal scenario's tracking metrics on frames whose answers are known by hand.

    python3 harness/testenv.py run --tao 6.25.11 -- python -m pytest -q tests/bench/test_tracking_metrics.py
"""
import pytest

pytest.importorskip("numpy")
from bench.evidence import metrics  # noqa: E402


def box(x, y=0.0):
    return [x, y, 0.5, 0.6, 0.6, 1.7, 0.0]


def frame(scene, index, gts, dets, carried=True, queries=()):
    """``gts``: [(x, gt_id)]; ``dets``: [(x, score, track_id)]; ``queries``: [(x, score)] in query order."""
    return {"scene": scene, "token": f"{scene}_{index}", "frame_idx": index, "timestamp": index * 0.2,
            "gt_boxes": [box(x) for x, _ in gts], "gt_ids": [g for _, g in gts], "gt_names": ["person"] * len(gts),
            "det_boxes": [box(x) for x, _, _ in dets], "det_scores": [s for _, s, _ in dets],
            "det_cls_scores": [s for _, s, _ in dets], "det_ids": [i for _, _, i in dets], "det_labels": [0] * len(dets),
            "query_centres": [box(x)[:3] for x, _ in queries], "query_scores": [s for _, s in queries],
            "carried": carried, "time_interval": 0.2}


def test_persistence_fragments_and_false_positive_tracks():
    frames = [
        frame("a", 0, [(0.0, 7)], [(0.1, 0.9, 100), (30.0, 0.1, 300)]),  # 0.1 < 0.2: not tracked, ignored
        frame("a", 1, [(1.0, 7)], [(1.1, 0.9, 100), (10.0, 0.5, 200)]),  # same ID kept; one false-positive track
        frame("a", 2, [(2.0, 7)], [(2.1, 0.9, 101), (10.0, 0.5, 200)]),  # ID switch; the false positive lives on
        frame("b", 0, [(0.0, 7)], [(0.0, 0.9, 101)]),  # another scene: ground-truth 7 and ID 101 are new tracks
        frame("b", 1, [(0.5, 7)], [(0.5, 0.9, 101)]),
    ]
    got = metrics.tracking_metrics({"frames": frames, "tracking_threshold": 0.2})
    assert got["consecutive_matched_pairs"] == 3  # a: 0-1, 1-2; b: 0-1
    assert got["id_persistence"] == pytest.approx(2 / 3)
    assert got["fp_tracks_per_frame"] == pytest.approx(2 / 5)
    assert got["fp_far_track_lifetime_frames"] == pytest.approx(2.0)
    assert got["gt_tracks_matched"] == 2
    assert got["fragments_per_gt_track"] == pytest.approx((2 + 1) / 2)


def test_no_matched_pair_is_no_persistence_not_zero():
    frames = [frame("a", 0, [(0.0, 1)], [(9.0, 0.9, 5)]), frame("a", 1, [(0.0, 1)], [(9.0, 0.9, 6)])]
    got = metrics.tracking_metrics({"frames": frames, "tracking_threshold": 0.2})
    assert got["id_persistence"] is None and got["fragments_per_gt_track"] is None
    assert got["fp_tracks_per_frame"] == 1.0 and got["fp_far_track_lifetime_frames"] == 1.0


def test_which_query_kind_sits_on_the_objects():
    # 2 temporal instances (queries 0, 1) then fresh ones; only carried frames count
    frames = [
        frame("a", 0, [(0.0, 1)], [], carried=False, queries=[(0.0, 0.9), (5.0, 0.1), (0.2, 0.3), (9.0, 0.2)]),
        frame("a", 1, [(0.0, 1), (20.0, 2)], [], queries=[(0.1, 0.2), (20.0, 0.8), (0.0, 0.6), (20.5, 0.1)]),
    ]
    got = metrics.temporal_query_diagnostics({"frames": frames, "num_temp_instances": 2})
    assert got["carried_frame_share"] == 0.5
    assert got["objects_best_query_temporal_share"] == 0.5  # object 1: fresh 0.6 beats temporal 0.2; object 2: temporal
    assert got["temporal_query_score_near_object"] == pytest.approx(0.5)  # median of 0.2, 0.8
    assert got["fresh_query_score_near_object"] == pytest.approx(0.35)  # median of 0.6, 0.1


# --- the field's metrics (metrics.field_record): TrackEval's HOTA, py-motmetrics' IDF1 / IDS at the common point,
# nuscenes-devkit's tracking metrics, false-positive tracks. They run in the metrics venv (nuscenes-devkit needs
# numpy<2): each case is computed there and compared with answers known by hand.

FIELD_SCRIPT = r'''
import json, sys
sys.path.insert(0, ".")
from bench.evidence import metrics
cases = json.loads(sys.stdin.read())
print("RESULT" + json.dumps({name: {k: v for k, v in metrics.field_record(data).items() if k != "devkit_tracking"}
                              for name, data in cases.items()}))
'''


def field_records(cases):
    import json
    import subprocess

    from bench.evidence import runs

    done = subprocess.run([str(runs.metrics_venv()), "-c", FIELD_SCRIPT], input=json.dumps(cases), capture_output=True,
                          text=True, env=runs.clean_env(), cwd=runs.REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    return json.loads(line[len("RESULT"):].replace("NaN", "null"))


def test_field_metrics_on_known_answers():
    five = range(5)
    got = field_records({
        # one object, one ID throughout: every metric at its best
        "perfect": {"score_threshold": 0.05, "frames": [frame("a", i, [(float(i), 7)], [(float(i), 0.9, 100)]) for i in five]},
        # a new ID every frame on the object, and a duplicate 0.3 m beside it keeping one ID for 5 frames
        "switching": {"score_threshold": 0.05, "frames": [
            frame("a", i, [(float(i), 7)], [(float(i), 0.9, 100 + i), (float(i) + 0.3, 0.5, 200)]) for i in five]},
        # nothing within 2 m of the object: the devkit reaches no recall threshold
        "missed": {"score_threshold": 0.05, "frames": [frame("a", i, [(float(i), 7)], [(float(i) + 9, 0.9, 5)]) for i in five]},
    })
    perfect, switching, missed = got["perfect"], got["switching"], got["missed"]
    for key in ("hota", "deta", "assa", "idf1", "mota_common", "amota", "mota", "recall_best"):
        assert perfect[key] == pytest.approx(1.0), key
    assert perfect["ids_common"] == 0 and perfect["fp_tracks_all_per_frame"] == 0.0
    assert perfect["fp_track_lifetime_frames"] is None  # no false-positive track: no lifetime, not 0
    # the duplicate is a false-positive track although it sits next to the object (one-to-one matching)
    assert switching["fp_tracks_all_per_frame"] == pytest.approx(1.0) and switching["fp_track_lifetime_frames"] == 5.0
    assert switching["ids_common"] == 4  # py-motmetrics: the object's ID changes in each of frames 1-4
    assert switching["mota_common"] == pytest.approx(1 - (0 + 5 + 4) / 5)  # FN 0, FP 5 (the duplicate), IDS 4
    # IDF1's global one-to-one ID matching gives the object the duplicate's ID (5 frames within 2 m): IDTP 5, IDFP 5
    assert switching["idf1"] == pytest.approx(2 * 5 / (2 * 5 + 5))
    assert 0 < switching["hota"] < perfect["hota"] and switching["ids_best"] == 4
    # the devkit fills every recall threshold it cannot reach with the metric's worst: AMOTA 0 (the degenerate value
    # the decision rule reads as "cannot tell"), and IDS at best MOTA NaN, kept as NaN (None in JSON), never 0
    assert missed["amota"] == 0.0 and missed["ids_best"] is None and missed["frag_best"] is None
    assert missed["mota_common"] == pytest.approx(1 - (5 + 5) / 5)  # py-motmetrics' MOTA is not clipped
    assert missed["hota"] == 0.0 and missed["idf1"] == 0.0 and missed["fp_tracks_all_per_frame"] == 1.0
