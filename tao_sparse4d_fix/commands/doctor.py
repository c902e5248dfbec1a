"""``tao-sparse4d-fix doctor``: will the fix be active in this container, and how?

Run it before a multi-hour job. It inspects without patching: it imports TAO's
target modules with the plugin's hooks held back and checks each target's code.
Exit status 1 means a training run here would be stopped (or would run stock).
"""
import importlib
import os
import sys

import tao_sparse4d_fix
from tao_sparse4d_fix import _bootstrap, switches
from tao_sparse4d_fix.host import delivery
from tao_sparse4d_fix.runtime import modes, versions
from tao_sparse4d_fix._version import __version__
from tao_sparse4d_fix.runtime.patches import ALL, COMPONENTS
from tao_sparse4d_fix.runtime.patches._base import inspect_target

PACKAGE_DIR = os.path.dirname(os.path.abspath(tao_sparse4d_fix.__file__))


def _pth_path():
    package_parent = os.path.dirname(PACKAGE_DIR)
    path = os.path.join(package_parent, "tao_sparse4d_fix.pth")
    return path if os.path.isfile(path) else None


def _inspect_targets(disabled):
    """Yield (patch, target, verdict, detail); verdict ok, off, skipped or UNKNOWN."""
    for patch in ALL:
        found = False
        for name in patch.modules:
            if patch.component in disabled:
                yield patch, patch.target(name), "off", f"switched off by {switches.DISABLE}"
                break
            try:
                module = importlib.import_module(name)
            except ImportError as error:
                if name == patch.modules[-1] and not found:
                    yield patch, patch.target(name), "UNKNOWN", f"cannot import: {error}"
                continue
            found = True
            recognition = inspect_target(patch, module)
            if recognition.known:
                yield patch, patch.target(name), "ok", recognition.detail
            elif patch.component:
                yield patch, patch.target(name), "skipped", f"{recognition.detail}; would be skipped"
            else:
                yield patch, patch.target(name), "UNKNOWN", recognition.detail


def run(spec_path=None, overrides=()):
    _bootstrap._remove_sentinel()  # inspect, do not patch
    problems = []
    state, raw = switches.read_enable()
    print(f"tao-sparse4d-fix {__version__} at {PACKAGE_DIR}")
    print(f"  start-up hook: {_pth_path() or 'MISSING (editable install?): the fix will not load by itself'}")
    print(f"  python: {sys.executable} ({sys.version.split()[0]})")
    print(f"  {switches.ENABLE}={raw!r}: {state}")
    if state == "invalid":
        problems.append(f"{switches.ENABLE}={raw!r} is not valid: use 1/true/on or 0/false/off")
    if state == "off":
        print("  the plugin is inert here: TAO trains with its stock loss")
    try:
        disabled = switches.disabled_components(COMPONENTS)
        print(f"  side components switched off ({switches.DISABLE}): {', '.join(sorted(disabled)) or 'none'}"
              f" (names: {', '.join(COMPONENTS)})")
    except switches.InvalidSwitch as error:
        disabled = frozenset()
        problems.append(str(error))
    try:
        print(f"  {switches.RANK_TIMEOUT}: {switches.rank_timeout():g} s (in a distributed run each rank waits that long "
              "for every other rank's status at the first loss call)")
    except switches.InvalidSwitch as error:
        problems.append(str(error))
    if switches.forced():
        print(f"  {switches.FORCE} is set: unrecognised targets would be patched anyway")
    for distribution in versions.TAO_DISTRIBUTIONS:
        print(f"  {distribution}: {versions.installed(distribution) or 'not installed'}")
    problems.extend(delivery.report(state))
    print("targets (core: the fix, all or nothing; side: each on its own):")
    for patch, target, verdict, detail in _inspect_targets(disabled):
        print(f"  [{verdict}] {patch.role} {target}: {detail}")
        if verdict == "UNKNOWN" and state == "on" and not switches.forced():
            problems.append(f"{target}: {detail}")
    try:
        value, source = modes.from_spec(spec_path, overrides)
        mode = modes.DEFAULT if value is None else modes.validate(value)
        label = spec_path or "a spec without the key"
        print(f"background_supervision for {label}: {mode} (from {source})")
        if state != "on" and source in ("spec", "override"):
            print("  note: without the plugin enabled, TAO's schema rejects this key")
    except (modes.InvalidMode, OSError) as error:
        problems.append(str(error))
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("ready" if not problems else "NOT READY: a training run here would be stopped")
    return 1 if problems else 0
