"""Every metric on hand-made files, against numbers worked out by hand in the comments."""
from inspect_helpers import approx, box, info, run_json, write_gt, write_results

from tao_sparse4d_fix.host.inspect import metrics

# Four frames, num_output 4 (--num-output), IDs a..f.
#   f0: 0.9 (a) at (1, 0), 0.5 (b) at (0.5, 0), 0.1 (c) at (10, 1.9)
#   f1: 0.3 (a) at (0, 0)
#   f2: nothing
#   f3: 0.46 (a) at (3, 0), 0.44 (d) at (0, 1.5), 0.42 (e) at (0, 0.1), 0.40 (f) at (0, 2.0)
FRAMES = {
    "f0": [box(0.9, 1, 0, "a"), box(0.5, 0.5, 0, "b"), box(0.1, 10, 1.9, "c")],
    "f1": [box(0.3, 0, 0, "a")],
    "f2": [],
    "f3": [box(0.46, 3, 0, "a"), box(0.44, 0, 1.5, "d"), box(0.42, 0, 0.1, "e"), box(0.40, 0, 2.0, "f")],
}
# GT: f0 (0, 0) and (10, 0); f1 none; f2 (5, 5); f3 (0, 0). Scenes A = f0, f1; B = f2, f3.
GT = [info("f0", [(0, 0), (10, 0)], "A", 0), info("f1", [], "A", 1), info("f2", [(5, 5)], "B", 0),
      info("f3", [(0, 0)], "B", 1)]


def measured(tmp_path, *extra):
    _, out = run_json(write_results(tmp_path / "r.json", FRAMES), "--num-output", 4, *extra)
    return out[0]


def test_detections_per_frame_and_the_cap(tmp_path):
    m = measured(tmp_path)
    # counts 3, 1, 0, 4 -> mean 2; sorted 0 1 3 4, linear interpolation:
    # p5 at 0.15 -> 0.15; p50 at 1.5 -> 1 + 0.5 * (3 - 1) = 2; p95 at 2.85 -> 3 + 0.85 * (4 - 3) = 3.85
    assert m["frames"] == 4 and m["detections_total"] == 8
    assert approx(m["detections_per_frame_mean"], 2.0)
    assert approx(m["detections_per_frame_p5"], 0.15)
    assert approx(m["detections_per_frame_p50"], 2.0)
    assert approx(m["detections_per_frame_p95"], 3.85)
    assert m["frames_at_cap"] == 1 and m["frames_over_cap"] == 0  # f3 holds 4 = num_output
    assert (m["num_output"], m["num_output_from"]) == (4, "option")


def test_score_distribution(tmp_path):
    m = measured(tmp_path)
    # all 8 scores sorted: .1 .3 .4 .42 .44 .46 .5 .9 -> median (0.42 + 0.44) / 2 = 0.43
    assert approx(m["score_median"], 0.43)
    # frames with 2+ detections: f0 spread 0.9 - 0.1 = 0.8, f3 spread 0.46 - 0.40 = 0.06 -> mean 0.43
    assert approx(m["score_spread_mean"], 0.43)
    # f0 median 0.5: only 0.5 itself within 0.05; f3 median 0.43: all four (0.03, 0.01, 0.01, 0.03) -> 5 of 7
    assert approx(m["near_median_share"], 5 / 7)


def test_track_ids_over_the_file_order(tmp_path):
    m = measured(tmp_path)
    # one sequence; f0 left out. f1: {a} nothing new; f2: none; f3: {a, d, e, f}: d, e, f new.
    # new IDs 3 over 3 frames = 1.0 per frame; 3 of the 5 detections of f1..f3 = 0.6
    assert m["tracking"] is True and m["id_scope"] == "file"
    assert approx(m["new_ids_per_frame"], 1.0)
    assert approx(m["new_id_share"], 0.6)
    # frames per ID: a 3, b c d e f 1 -> 5 of 6 seen once
    assert approx(m["single_frame_id_share"], 5 / 6)


def test_track_ids_per_scene_with_gt(tmp_path):
    m = measured(tmp_path, "--gt", write_gt(tmp_path / "gt.pkl", GT))
    # scenes from the GT: A = f0, f1; B = f2, f3; first frames f0 and f2 left out.
    # f1: {a} seen in f0 -> 0 new; f3: {a, d, e, f}, nothing earlier in B -> 4 new.
    # 4 new over 2 frames = 2.0; 4 of 5 detections (f1: 1, f3: 4) = 0.8
    assert m["id_scope"] == "scene"
    assert approx(m["new_ids_per_frame"], 2.0)
    assert approx(m["new_id_share"], 0.8)
    # (scene, ID): (A,a) 2 frames; (A,b) (A,c) (B,a) (B,d) (B,e) (B,f) 1 -> 6 of 7
    assert approx(m["single_frame_id_share"], 6 / 7)


def test_false_positives_precision_recall_at_2m(tmp_path):
    m = measured(tmp_path, "--gt", write_gt(tmp_path / "gt.pkl", GT))
    # f0 by score: 0.9 at (1,0) -> GT (0,0) at 1 m: TP; 0.5 at (0.5,0) -> nearest unmatched (10,0) at 9.5 m: FP;
    #    0.1 at (10,1.9) -> (10,0) at 1.9 m: TP (a lower score still matches what is left)
    # f1: 0.3, no GT: FP.  f2: no detection, its GT box missed.
    # f3 by score: 0.46 at (3,0) -> 3 m: FP; 0.44 at (0,1.5) -> 1.5 m: TP; 0.42: the GT is taken: FP;
    #    0.40 at (0,2.0): FP (exactly 2 m is not a match: nuScenes matches below the threshold)
    # TP 3, FP 5 over 4 frames -> 1.25; precision 3/8; recall 3 of 4 GT boxes
    assert approx(m["gt_per_frame_mean"], 1.0)
    assert approx(m["fp_per_frame"], 1.25)
    assert approx(m["precision_2m"], 0.375)
    assert approx(m["recall_2m"], 0.75)
    assert m["common_recall"] is None  # one file: nothing to compare


def test_common_recall_over_several_files(tmp_path):
    gt = write_gt(tmp_path / "gt.pkl", GT)
    # B: f0 0.8 at (0,0) TP, 0.7 at (50,50) FP; f1 0.95 at (20,20) FP; f2 0.6 at (5,5) TP; f3 0.9 at (9,9) FP
    other = {"f0": [box(0.8, 0, 0), box(0.7, 50, 50)], "f1": [box(0.95, 20, 20)], "f2": [box(0.6, 5, 5)],
             "f3": [box(0.9, 9, 9)]}
    status, (a, b) = run_json(write_results(tmp_path / "a.json", FRAMES), write_results(tmp_path / "b.json", other),
                              "--num-output", 4, "--gt", gt)
    # best recall: A 3/4, B 2/4 -> common recall 0.5 (2 TP)
    assert approx(a["common_recall"], 0.5) and approx(b["common_recall"], 0.5)
    # A by score: 0.9 TP, 0.5 FP, 0.46 FP, 0.44 TP -> reaches 2 TP at 0.44 with 2 FP -> 0.5 per frame
    assert approx(a["score_threshold_at_common_recall"], 0.44)
    assert approx(a["fp_per_frame_at_common_recall"], 0.5)
    # B: 0.95 FP, 0.9 FP, 0.8 TP, 0.7 FP, 0.6 TP -> 2 TP at 0.6 with 3 FP -> 0.75 per frame
    assert approx(b["score_threshold_at_common_recall"], 0.6)
    assert approx(b["fp_per_frame_at_common_recall"], 0.75)
    assert approx(b["fp_per_frame"], 0.75) and approx(b["precision_2m"], 0.4) and approx(b["recall_2m"], 0.5)


def test_a_threshold_keeps_every_detection_of_its_score():
    # two detections at 0.5 (one TP, one FP): a threshold at 0.5 keeps both
    assert metrics._curve([(0.9, False), (0.5, True), (0.5, False), (0.2, True)]) == [
        (0.9, 0, 1), (0.5, 1, 2), (0.2, 2, 2)]


def test_percentile_matches_linear_interpolation():
    values = [7, 1, 3, 9, 5]  # sorted 1 3 5 7 9
    assert metrics.percentile(values, 0) == 1 and metrics.percentile(values, 100) == 9
    assert metrics.percentile(values, 50) == 5
    assert approx(metrics.percentile(values, 10), 1.8)  # position 0.4: 1 + 0.4 * 2
    assert approx(metrics.percentile(values, 95), 8.6)  # position 3.8: 7 + 0.8 * 2
    assert metrics.percentile([], 50) is None


def test_greedy_matching_by_score_not_by_file_order():
    # the higher score takes the GT box first, though it comes second in the file
    assert metrics.match_frame([(0.3, (0.0, 0.0)), (0.8, (0.5, 0.0))], [(0.0, 0.0)]) == [(0.8, True), (0.3, False)]
    assert metrics.match_frame([(0.5, (1.99, 0.0))], [(0.0, 0.0)]) == [(0.5, True)]
    assert metrics.match_frame([(0.5, (0.0, 0.0))], []) == [(0.5, False)]


def test_frames_without_ids_give_no_id_metrics(tmp_path):
    frames = {f"t{k}": [box(0.5, tid=None), box(0.6, tid=None)] for k in range(3)}  # "None": detection mode
    _, (m,) = run_json(write_results(tmp_path / "r.json", frames))
    assert m["tracking"] is False and m["new_ids_per_frame"] is None and m["single_frame_id_share"] is None
    frames["t0"][0]["tracking_id"] = "7"
    _, (m,) = run_json(write_results(tmp_path / "r.json", frames))
    assert m["tracking"] is False
    assert "tracking_id on only 1 of 6 boxes: no ID metrics" in m["reasons"]


def test_frames_over_the_cap_are_counted(tmp_path):
    _, (m,) = run_json(write_results(tmp_path / "r.json", FRAMES), "--num-output", 3)
    assert m["frames_at_cap"] == 2 and m["frames_over_cap"] == 1  # f0 holds 3, f3 holds 4


def test_grid_matching_equals_measuring_every_gt_box():
    import math
    import random

    def every_box(detections, centres, max_distance=2.0):
        taken, out = [False] * len(centres), []
        for score, (x, y) in sorted(detections, key=lambda d: -d[0]):
            best, best_distance = None, None
            for j, (gx, gy) in enumerate(centres):
                distance = math.hypot(x - gx, y - gy)
                if not taken[j] and (best_distance is None or distance < best_distance):
                    best, best_distance = j, distance
            is_tp = best is not None and best_distance < max_distance
            if is_tp:
                taken[best] = True
            out.append((score, is_tp))
        return out

    rng = random.Random(1)
    for _ in range(500):
        span = rng.choice([3, 10, 40])

        def coordinate():
            return round(rng.uniform(-span, span), rng.choice([0, 1, 3]))

        detections = [(round(rng.random(), 2), (coordinate(), coordinate())) for _ in range(rng.randint(0, 30))]
        centres = [(coordinate(), coordinate()) for _ in range(rng.randint(0, 10))]
        assert metrics.match_frame(detections, centres) == every_box(detections, centres), (detections, centres)
