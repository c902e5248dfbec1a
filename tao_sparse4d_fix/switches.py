"""Every environment variable the plugin reads, parsed here and nowhere else.

Empty means unset for all of them. ``tao_sparse4d_fix.pth`` keeps an inline
copy of ``OFF_VALUES`` (a ``.pth`` line cannot import without paying for it);
a start-up test checks that the two agree. Standard library only: ``_bootstrap``
imports this module in every interpreter.
"""
import os

ENABLE = "TAO_SPARSE4D_FIX"
FORCE = "TAO_SPARSE4D_FIX_FORCE"
DISABLE = "TAO_SPARSE4D_FIX_DISABLE"
DIAGNOSTICS = "TAO_SPARSE4D_FIX_DIAGNOSTICS"  # kept from 0.1.0: =0 means DISABLE=diagnostics
DIAGNOSTICS_COMPONENT = "diagnostics"
RANK_TIMEOUT = "TAO_SPARSE4D_FIX_RANK_TIMEOUT"
DEFAULT_RANK_TIMEOUT_S = 60.0
ON_VALUES = ("1", "true", "on")
OFF_VALUES = ("", "0", "false", "off")


def __getattr__(name):
    """``switches.InvalidSwitch``: it lives in ``errors``, imported only when asked for or raised, so start-up imports nothing more."""
    if name == "InvalidSwitch":
        from tao_sparse4d_fix.errors import InvalidSwitch

        return InvalidSwitch
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _invalid(message):
    from tao_sparse4d_fix.errors import InvalidSwitch

    return InvalidSwitch(message)


def _raw(name, environ):
    return (os.environ if environ is None else environ).get(name, "")


def read_enable(environ=None):
    """``TAO_SPARSE4D_FIX`` as ``(state, raw)``, state ``"on"``, ``"off"`` or ``"invalid"``."""
    raw = _raw(ENABLE, environ)
    value = raw.strip().lower()
    if value in OFF_VALUES:
        return "off", raw
    if value in ON_VALUES:
        return "on", raw
    return "invalid", raw


def invalid_enable_message(raw):
    return (
        f"tao-sparse4d-fix: {ENABLE}={raw!r} is not a valid value. "
        "Use 1, true or on to enable the fix; 0, false, off or unset to disable it."
    )


def forced(environ=None):
    """``TAO_SPARSE4D_FIX_FORCE``: patch targets whose code is not recognised."""
    return _raw(FORCE, environ).strip().lower() in ON_VALUES


def disabled_components(valid, environ=None):
    """The side components switched off, checked against ``valid``; raises ``InvalidSwitch``.

    ``TAO_SPARSE4D_FIX_DISABLE`` is a comma-separated list of component names
    (the convention of ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``);
    ``TAO_SPARSE4D_FIX_DIAGNOSTICS=0`` adds ``diagnostics``.
    """
    raw = _raw(DISABLE, environ)
    names = {name.strip().lower() for name in raw.split(",")} - {""}
    unknown = sorted(names - set(valid))
    if unknown:
        raise _invalid(
            f"tao-sparse4d-fix: {DISABLE}={raw!r} names {', '.join(map(repr, unknown))}, "
            f"which is not a component that can be switched off; valid names are: {', '.join(valid)}."
        )
    if _raw(DIAGNOSTICS, environ).strip().lower() in OFF_VALUES[1:]:
        names.add(DIAGNOSTICS_COMPONENT)
    return frozenset(names)


def rank_timeout(environ=None):
    """``TAO_SPARSE4D_FIX_RANK_TIMEOUT``: seconds each rank waits for every other rank's status; raises ``InvalidSwitch``.

    In a distributed run the ranks compare what they run at the first loss call
    (``runtime.rank_guard``); a rank that has not reported within this time runs
    without the fix, and the run is stopped.
    """
    return _seconds(RANK_TIMEOUT, environ, DEFAULT_RANK_TIMEOUT_S, *RANK_TIMEOUT_RANGE_S)


RANK_TIMEOUT_RANGE_S = (0.1, 24 * 3600.0)  # below 0.1 s no store answers; beyond a day is a typo (1e300 overflows timedelta)


def _seconds(name, environ, default, low, high):
    """A number of seconds within ``[low, high]`` (the one rule for every numeric switch), or the default when unset."""
    raw = _raw(name, environ)
    if not raw.strip():
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not low <= seconds <= high:  # nan and inf fail here too
        raise _invalid(
            f"tao-sparse4d-fix: {name}={raw!r} is not a valid value; give a number of seconds greater than 0, "
            f"from {low:g} to {high:g} (default {default:g})."
        )
    return seconds
