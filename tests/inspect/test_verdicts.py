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
    assert m["signals"]["id_churn"] == "fired"  # 64 of 128 queries get a fresh ID every frame: reported, no vote
    assert m["reasons"][0] == "2 signal(s) fired: at_cap, flat_scores"
    assert m["frames_at_cap"] == 20 and m["score_spread_mean"] <= 0.01 + 1e-9


def test_stock_fine_tuned_is_affected_near_the_cap(tmp_path):
    # 91 of 128 above 0.2: not at the cap, scores not flat; near the cap (strong) and churning IDs (no vote)
    status, m = verdict_of(tmp_path, stock_fine_tuned(), "--num-output", 128)
    assert (status, m["verdict"]) == (1, "affected")
    assert m["signals"] == {"at_cap": "quiet", "near_cap": "fired", "flat_scores": "quiet",
                            "many_per_gt": "n/a", "id_churn": "fired"}
    assert m["reasons"][0] == "1 signal(s) fired: near_cap"


def test_fixed_like_is_not_affected(tmp_path):
    status, m = verdict_of(tmp_path, fixed_like(), "--num-output", 128)
    assert (status, m["verdict"]) == (0, "not_affected")
    assert m["reasons"][0] == "no signal fired"
    assert set(m["signals"].values()) <= {"quiet", "n/a"}


def test_the_default_cap_is_300_and_the_verdict_says_so(tmp_path):
    # stock from scratch with 128 queries judged against the default 300: not at or near the cap, only flat
    status, m = verdict_of(tmp_path, stock_from_scratch())
    assert (m["num_output"], m["num_output_from"]) == (thresholds.DEFAULT_NUM_OUTPUT, "default")
    assert m["signals"]["at_cap"] == "quiet" and m["signals"]["flat_scores"] == "fired"
    assert (status, m["verdict"]) == (0, "unclear")  # the weak signal alone: give the right cap
    assert m["reasons"][0] == "only the weak signal flat_scores fired"


def test_too_few_frames_is_unclear(tmp_path):
    status, m = verdict_of(tmp_path, stock_from_scratch(frames=thresholds.MIN_FRAMES - 1), "--num-output", 128)
    assert (status, m["verdict"]) == (0, "unclear")
    assert m["reasons"][0] == (f"only {thresholds.MIN_FRAMES - 1} frames (fewer than {thresholds.MIN_FRAMES}): "
                               "too few to judge; fired: at_cap, flat_scores")


def test_one_weak_signal_alone_is_unclear(tmp_path):
    # a fixed model with a few low-confidence detections just above the file's 0.2 cut: flat, but few
    frames = {f"scene_000_{k:06d}": [box(0.22 + 0.002 * q, x=q * 4.0, tid=q) for q in range(8)] for k in range(12)}
    status, m = verdict_of(tmp_path, frames, "--num-output", 128)
    assert m["signals"]["flat_scores"] == "fired" and m["signals"]["near_cap"] == "quiet"
    assert (status, m["verdict"]) == (0, "unclear")
    assert m["reasons"][0] == "only the weak signal flat_scores fired"


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
    assert (status, m["verdict"]) == (0, "unclear")  # flat scores alone (weak) do not decide it
    assert m["reasons"][0] == "only the weak signal flat_scores fired"


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
