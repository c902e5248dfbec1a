"""config.TRACKER_DECISION_RULE as code: which tracking setting is advised against stock, repeat by repeat.

Standard library only (runs in the metrics venv and in the harness env's tests). The metrics come from
metrics.py; this module only compares. Every comparison is one of ``better``, ``worse``, ``same`` or
``cannot tell`` (stock's value degenerate: NaN / None, or 0 on a key the devkit clips at 0); ``cannot tell`` is
never a win and never a loss, and is reported by name. A repeat where either run is invalid (floor rule or
tracking validity rule) is inconclusive.
"""
import math
import statistics

from bench.evidence import config

CANNOT_TELL = "cannot tell"


def missing(value):
    return value is None or (isinstance(value, float) and math.isnan(value))


def compare(stock, setting, direction, key=""):
    """``better`` / ``worse`` / ``same`` / ``cannot tell`` for one repeat (``direction`` +1: higher is better)."""
    if missing(stock) or (key in config.CLIPPED_AT_ZERO and stock == 0):
        return CANNOT_TELL
    if missing(setting):
        return CANNOT_TELL
    if math.isclose(stock, setting, rel_tol=1e-9, abs_tol=1e-12):
        return "same"
    return "better" if (setting - stock) * direction > 0 else "worse"


def fp_tracks_within(stock, setting, fraction=config.FP_TRACK_FRACTION):
    """``better`` when the setting's false-positive track-frames are at most ``fraction`` of stock's."""
    if missing(stock) or missing(setting):
        return CANNOT_TELL
    return "better" if setting <= fraction * stock + 1e-12 else "worse"


def judge(repeats, wins=config.DECISION_WINS, guards=config.DECISION_GUARDS):
    """One setting's verdict from its repeats.

    ``repeats``: per repeat ``{"valid": bool, "values": {key: (stock, setting)}}`` with every key of ``wins``,
    ``guards`` and ``fp_tracks_all_per_frame``. Returns the verdict (``advised`` / ``not advised`` /
    ``inconclusive``), why, and every comparison per repeat (values kept as they are: a NaN stays visible).
    """
    n = len(repeats)
    majority = n // 2 + 1
    out_repeats, failed, worse, cannot = [], set(), {k: 0 for k, _ in guards}, set()
    any_invalid = False
    for rep in repeats:
        values = rep["values"]
        outcome = {key: compare(*values[key], direction, key) for key, direction in wins}
        outcome["fp_tracks_all_per_frame"] = fp_tracks_within(*values["fp_tracks_all_per_frame"])
        guard = {key: compare(*values[key], direction, key) for key, direction in guards}
        if not rep["valid"]:
            any_invalid = True
        else:
            for key, result in outcome.items():
                if result == "worse" or result == "same":
                    failed.add(key)
                elif result == CANNOT_TELL:
                    cannot.add(key)
            for key, result in guard.items():
                worse[key] += result == "worse"
                if result == CANNOT_TELL:
                    cannot.add(key)
        out_repeats.append({"valid": rep["valid"], "must_win": outcome, "guards": guard,
                            "values": {k: {"stock": v[0], "setting": v[1]} for k, v in values.items()}})
    loses = sorted(k for k, count in worse.items() if count >= majority)
    must_win_cannot = sorted(k for k in cannot if k not in dict(guards))
    if failed or loses or must_win_cannot:
        verdict = "not advised"  # a failed or untellable win in a valid repeat, or a guard lost in a majority
    elif any_invalid or n == 0:
        verdict = "inconclusive"
    else:
        verdict = "advised"
    return {"verdict": verdict, "fails": sorted(failed), "loses_on": loses,
            "cannot_tell_on": sorted(cannot), "inconclusive_repeats": sum(not r["valid"] for r in repeats),
            "repeats": out_repeats}


def median_hota(records):
    values = [r.get("hota") for r in records if not missing(r.get("hota"))]
    return statistics.median(values) if values and len(values) == len(records) else float("nan")


def defaults(verdicts, settings_of, hota_of):
    """The defaults the rule advises: the advised setting with the highest median HOTA, continuity off unless a
    setting with it is advised. ``settings_of[label]``: its instance-bank settings and mode; ``hota_of[label]``:
    its median HOTA."""
    advised = [label for label, v in verdicts.items() if v["verdict"] == "advised"]
    ranked = sorted(advised, key=lambda label: (-hota_of.get(label, float("-inf"))
                                                if not missing(hota_of.get(label)) else math.inf, label))
    best = ranked[0] if ranked else None
    with_continuity = [label for label in advised if (settings_of.get(label, {}).get("bank") or {}).get(
        "id_continuity_gate", 0) not in (0, 0.0, None)]
    chosen = settings_of.get(best, {}) if best else {}
    bank = dict(chosen.get("bank") or {})
    if not with_continuity:
        bank["id_continuity_gate"] = 0.0
    modes = {settings_of.get(label, {}).get("mode") for label in advised}
    mode = "unmatched_only" if advised and modes == {"unmatched_only"} else "corrected"
    return {"advised": advised, "follows": best, "median_hota": None if best is None else hota_of.get(best),
            "instance_bank": bank, "background_supervision": mode,
            "id_continuity": "on" if with_continuity else "off (no advised setting has it)"}
