"""The verdicts on constructed stock-like and fixed-like files, and the exit statuses."""
from inspect_helpers import box, fixed_like, info, run, run_json, stock_fine_tuned, stock_from_scratch, write_gt, write_results

from tao_sparse4d_fix.host.inspect import thresholds


def verdict_of(tmp_path, frames, *extra):
    status, (m,) = run_json(write_results(tmp_path / "r.json", frames), *extra)
    return status, m


def test_stock_from_scratch_is_affected(tmp_path):
    status, m = verdict_of(tmp_path, stock_from_scratch(), "--num-output", 128)
    assert (status, m["verdict"]) == (1, "affected")
    assert m["signals"]["at_cap"] == "fired" and m["signals"]["flat_scores"] == "fired"
    assert m["signals"]["id_churn"] == "fired"  # 64 of 128 queries get a fresh ID every frame
    assert m["reasons"][0] == "3 signal(s) fired: at_cap, flat_scores, id_churn"
    assert m["frames_at_cap"] == 20 and m["score_spread_mean"] <= 0.01 + 1e-9


def test_stock_fine_tuned_is_affected_on_two_weak_signals(tmp_path):
    # 91 of 128 above 0.2: not at the cap, scores not flat; near the cap and churning IDs
    status, m = verdict_of(tmp_path, stock_fine_tuned(), "--num-output", 128)
    assert (status, m["verdict"]) == (1, "affected")
    assert m["signals"] == {"at_cap": "quiet", "near_cap": "fired", "flat_scores": "quiet",
                            "many_per_gt": "n/a", "id_churn": "fired"}


def test_fixed_like_is_not_affected(tmp_path):
    status, m = verdict_of(tmp_path, fixed_like(), "--num-output", 128)
    assert (status, m["verdict"]) == (0, "not_affected")
    assert m["reasons"][0] == "no signal fired"
    assert set(m["signals"].values()) <= {"quiet", "n/a"}


def test_the_default_cap_is_300_and_the_verdict_says_so(tmp_path):
    # stock from scratch with 128 queries judged against the default 300: not at the cap, but flat
    status, m = verdict_of(tmp_path, stock_from_scratch())
    assert (m["num_output"], m["num_output_from"]) == (thresholds.DEFAULT_NUM_OUTPUT, "default")
    assert m["signals"]["at_cap"] == "quiet" and m["signals"]["flat_scores"] == "fired"
    assert (status, m["verdict"]) == (1, "affected")


def test_too_few_frames_is_unclear(tmp_path):
    status, m = verdict_of(tmp_path, stock_from_scratch(frames=thresholds.MIN_FRAMES - 1), "--num-output", 128)
    assert (status, m["verdict"]) == (0, "unclear")
    assert m["reasons"][0] == (f"only {thresholds.MIN_FRAMES - 1} frames (fewer than {thresholds.MIN_FRAMES}): "
                               "too few to judge; fired: at_cap, flat_scores, id_churn")


def test_one_weak_signal_alone_is_unclear(tmp_path):
    frames = stock_fine_tuned()
    for boxes in frames.values():
        for b in boxes:
            b["tracking_id"] = "None"  # no ids: only near_cap is left
    status, m = verdict_of(tmp_path, frames, "--num-output", 128)
    assert (status, m["verdict"]) == (0, "unclear")
    assert m["reasons"][0] == "only the weak signal near_cap fired"


def test_gt_that_holds_as_many_objects_makes_it_unclear(tmp_path):
    # a crowded scene filling a small cap: every detection is on a GT box
    frames = {f"t{k:02d}": [box(0.3 + 0.6 * q / 9, x=q * 5.0, y=0.0, tid=q) for q in range(10)] for k in range(12)}
    gt = write_gt(tmp_path / "gt.pkl", [info(token, [(q * 5.0, 0.0) for q in range(10)]) for token in frames])
    status, m = verdict_of(tmp_path, frames, "--num-output", 10, "--gt", gt)
    assert m["signals"]["at_cap"] == "fired" and m["signals"]["many_per_gt"] == "quiet"
    assert (status, m["verdict"]) == (0, "unclear")
    assert m["reasons"][0].startswith("signals disagree: at_cap fired, but the GT holds about as many objects")
    assert m["precision_2m"] == 1.0 and m["recall_2m"] == 1.0 and m["fp_per_frame"] == 0.0


def test_many_detections_per_gt_box_alone_is_affected(tmp_path):
    frames = fixed_like(frames=12, per_frame=(40,))
    gt = write_gt(tmp_path / "gt.pkl", [info(token, [(0.0, 0.0), (4.0, 0.0)]) for token in frames])
    status, m = verdict_of(tmp_path, frames, "--num-output", 300, "--gt", gt)
    assert m["signals"]["many_per_gt"] == "fired"  # 40 per frame for 2 GT boxes = 20x
    assert (status, m["verdict"]) == (1, "affected")
    assert "many_per_gt: fired (40.0 detections per frame for 2.0 GT boxes = 20.0x; fires at >= 15x)" in m["reasons"]


def test_a_cap_that_is_exceeded_is_not_used(tmp_path):
    status, m = verdict_of(tmp_path, stock_from_scratch(), "--num-output", 64)
    assert m["signals"]["at_cap"] == "n/a" and m["signals"]["near_cap"] == "n/a"
    assert any("20 frame(s) hold more than num_output=64 detections" in r for r in m["reasons"])
    assert (status, m["verdict"]) == (1, "affected")  # flat scores still say so


def test_no_detection_at_all_is_unclear(tmp_path):
    status, m = verdict_of(tmp_path, {f"t{k}": [] for k in range(12)})
    assert (status, m["verdict"]) == (0, "unclear")
    assert m["reasons"][0] == "no detection in any frame: nothing to judge"


def test_exit_status_is_1_when_any_file_is_affected(tmp_path):
    stock = write_results(tmp_path / "stock.json", stock_from_scratch())
    fixed = write_results(tmp_path / "fixed.json", fixed_like())
    assert run(fixed, "--num-output", 128)[0] == 0
    assert run(fixed, stock, "--num-output", 128)[0] == 1
    assert run(stock, fixed, "--num-output", 128)[0] == 1
