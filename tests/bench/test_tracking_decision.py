"""bench/evidence/decision.py: config.TRACKER_DECISION_RULE on made-up repeats whose verdicts are known by hand.

A setting that loses in a majority of repeats is not advised; a degenerate stock value (NaN, AMOTA clipped at 0)
is "cannot tell", never a win and never "not worse"; a NaN stays visible in the verdict's repeats; an invalid
repeat makes the verdict inconclusive; the defaults follow the advised setting with the highest median HOTA and
switch ID continuity off unless a setting with it is advised.

    python3 harness/testenv.py run --tao 6.25.11 -- python -m pytest -q tests/bench/test_tracking_decision.py
"""
import math

import pytest

from bench.evidence import config, decision

NAN = float("nan")
STOCK = {"hota": 0.20, "idf1": 0.10, "ids_common": 40, "fp_tracks_all_per_frame": 60.0, "amota": 0.05,
         "mota_common": -3.0, "fp_per_frame_at_matched_recall": 20.0}
GOOD = {"hota": 0.40, "idf1": 0.35, "ids_common": 10, "fp_tracks_all_per_frame": 5.0, "amota": 0.10,
        "mota_common": 0.1, "fp_per_frame_at_matched_recall": 2.0}


def repeat(stock=None, setting=None, valid=True):
    s, c = dict(STOCK, **(stock or {})), dict(GOOD, **(setting or {}))
    return {"valid": valid, "values": {k: (s[k], c[k]) for k in STOCK}}


def test_a_setting_better_on_everything_in_every_repeat_is_advised():
    v = decision.judge([repeat(), repeat(), repeat()])
    assert v["verdict"] == "advised" and v["fails"] == [] and v["loses_on"] == [] and v["cannot_tell_on"] == []


def test_a_setting_losing_a_guard_in_a_majority_of_repeats_is_not_advised():
    worse = {"mota_common": -5.0}
    v = decision.judge([repeat(setting=worse), repeat(setting=worse), repeat()])
    assert v["verdict"] == "not advised" and v["loses_on"] == ["mota_common"]
    once = decision.judge([repeat(setting=worse), repeat(), repeat()])  # worse in 1 of 3: not a majority
    assert once["verdict"] == "advised" and once["loses_on"] == []
    assert once["repeats"][0]["guards"]["mota_common"] == "worse"


@pytest.mark.parametrize("key, value", [("hota", 0.1), ("idf1", 0.10), ("ids_common", 41)])
def test_a_must_win_not_won_in_one_repeat_is_not_advised(key, value):
    v = decision.judge([repeat(), repeat(setting={key: value}), repeat()])
    assert v["verdict"] == "not advised" and v["fails"] == [key]


def test_false_positive_track_frames_must_be_at_most_a_third_of_stocks():
    assert decision.judge([repeat(setting={"fp_tracks_all_per_frame": 20.0})])["verdict"] == "advised"  # = 60 / 3
    v = decision.judge([repeat(setting={"fp_tracks_all_per_frame": 21.0})])
    assert v["verdict"] == "not advised" and v["fails"] == ["fp_tracks_all_per_frame"]


def test_amota_clipped_at_zero_for_stock_cannot_tell_never_a_win_nor_not_worse():
    clipped = {"amota": 0.0}
    v = decision.judge([repeat(stock=clipped), repeat(stock=clipped), repeat(stock=clipped)])
    assert all(r["guards"]["amota"] == decision.CANNOT_TELL for r in v["repeats"])
    assert v["cannot_tell_on"] == ["amota"] and "amota" not in v["loses_on"]
    assert decision.compare(0.0, 0.3, +1, "amota") == decision.CANNOT_TELL  # not "better"
    assert decision.compare(0.0, 0.0, +1, "mota_common") == "same"  # 0 is degenerate only where the devkit clips


def test_a_degenerate_stock_value_on_a_must_win_cannot_pass_as_a_win():
    v = decision.judge([repeat(stock={"hota": NAN}), repeat(), repeat()])
    assert v["verdict"] == "not advised" and v["cannot_tell_on"] == ["hota"] and v["fails"] == []
    assert v["repeats"][0]["must_win"]["hota"] == decision.CANNOT_TELL
    v = decision.judge([repeat(stock={"ids_common": None})])
    assert v["verdict"] == "not advised" and v["cannot_tell_on"] == ["ids_common"]


def test_a_nan_stays_visible_per_repeat():
    v = decision.judge([repeat(stock={"amota": NAN}, setting={"amota": NAN}), repeat()])
    shown = v["repeats"][0]["values"]["amota"]
    assert math.isnan(shown["stock"]) and math.isnan(shown["setting"])
    assert v["repeats"][0]["guards"]["amota"] == decision.CANNOT_TELL
    assert decision.median_hota([{"hota": 0.3}, {"hota": NAN}]) != decision.median_hota([{"hota": 0.3}])
    assert math.isnan(decision.median_hota([{"hota": 0.3}, {"hota": NAN}]))  # not the median of what is left


def test_an_invalid_repeat_is_inconclusive_unless_a_valid_one_already_fails():
    assert decision.judge([repeat(valid=False), repeat(), repeat()])["verdict"] == "inconclusive"
    v = decision.judge([repeat(valid=False), repeat(setting={"hota": 0.1}), repeat()])
    assert v["verdict"] == "not advised" and v["inconclusive_repeats"] == 1
    invalid_loss = decision.judge([repeat(valid=False, setting={"hota": 0.0}), repeat(), repeat()])
    assert invalid_loss["fails"] == []  # an invalid repeat's numbers decide nothing


def test_defaults_follow_the_highest_median_hota_and_continuity_goes_off_unless_advised():
    verdicts = {"a": {"verdict": "advised"}, "b": {"verdict": "advised"}, "c": {"verdict": "not advised"}}
    settings = {"a": {"bank": {"id_continuity_gate": 0.0, "track_gate": 1.0}, "mode": "corrected"},
                "b": {"bank": {"id_continuity_gate": 1.0}, "mode": "corrected"},
                "c": {"bank": {"id_continuity_gate": 1.0, "track_gate": 1.0}, "mode": "corrected"}}
    d = decision.defaults(verdicts, settings, {"a": 0.5, "b": 0.4, "c": 0.9})
    assert d["follows"] == "a" and d["instance_bank"]["track_gate"] == 1.0 and d["id_continuity"] == "on"
    d = decision.defaults({"a": verdicts["a"], "c": verdicts["c"]}, settings, {"a": 0.5, "c": 0.9})
    assert d["follows"] == "a" and d["instance_bank"]["id_continuity_gate"] == 0.0 and d["id_continuity"].startswith("off")
    none = decision.defaults({"c": verdicts["c"]}, settings, {"c": 0.9})
    assert none["follows"] is None and none["instance_bank"] == {"id_continuity_gate": 0.0}
    assert none["background_supervision"] == "corrected"


def test_the_rule_and_the_arms_are_fixed_in_config():
    assert [k for k, _ in config.DECISION_WINS] == ["hota", "idf1", "ids_common"]
    assert [k for k, _ in config.DECISION_GUARDS] == ["amota", "mota_common", "fp_per_frame_at_matched_recall"]
    assert config.FP_TRACK_FRACTION == pytest.approx(1 / 3) and config.CLIPPED_AT_ZERO == ("amota",)
    assert list(config.TRACKER_ARMS) == ["stock", "stock+tracker", "corrected", "corrected+continuity",
                                         "corrected+association", "corrected+memory", "corrected+speed_gate",
                                         "corrected+hungarian", "corrected+suppression", "corrected+tracker"]
    for name, (finetune, bank, why) in config.TRACKER_ARMS.items():
        assert finetune in config.MODES and why and set(bank) <= set(config.TRACKER_KEYS), name
    assert config.TRACKER_ARMS["stock"][1] == config.TRACKER_OFF == dict(  # every key named: TAO's own IDs
        id_continuity_gate=0.0, track_gate=0.0, track_max_age=0, track_speed_gate=0.0, track_assignment="greedy",
        track_nms_radius=0.0)
    assert config.TRACKER_ARMS["corrected+memory"][1] == dict(config.ASSOCIATION, track_max_age=3)
    assert set(config.QUICK["tracker_arms"]) <= set(config.TRACKER_ARMS)
