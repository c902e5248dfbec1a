"""``tao-sparse4d-fix doctor``: will the fix be active in this container, and how?

Run it before a multi-hour job. It inspects without patching: it imports TAO's
target modules with the plugin's hooks held back and checks each target's code.
Exit status 1 means a training run here would be stopped (or would run stock).

On a host (TAO not importable, the plugin not loaded from a bundle) the
container's checks are not applicable: it reports how the TAO launcher would
start the container (image, mounts, and the switches its ``Envs`` pass, checked
by the same code as at start-up), and exits 1 only for what would make that
run stock TAO or stop it.
"""
import importlib
import importlib.util
import os
import sys

import tao_sparse4d_fix
from tao_sparse4d_fix import _bootstrap, switches
from tao_sparse4d_fix.host import delivery, mounts
from tao_sparse4d_fix.runtime import modes, versions
from tao_sparse4d_fix._version import __version__

PACKAGE_DIR = os.path.dirname(os.path.abspath(tao_sparse4d_fix.__file__))


def _pth_path():
    package_parent = os.path.dirname(PACKAGE_DIR)
    path = os.path.join(package_parent, "tao_sparse4d_fix.pth")
    return path if os.path.isfile(path) else None


def _patches():
    """The plugin's patches (they import wrapt: None where it is missing, which the doctor reports)."""
    try:
        from tao_sparse4d_fix.runtime import patches
        from tao_sparse4d_fix.runtime.patches import _base
    except ImportError:
        return None
    return patches, _base.inspect_target


def _inspect_targets(disabled):
    """Yield (patch, target, verdict, detail); verdict ok, off, skipped or UNKNOWN."""
    patches, inspect_target = _patches()
    for patch in patches.ALL:
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


TAO_PACKAGE = "nvidia_tao_pytorch"


def on_host():
    """No TAO to patch here and no bundle loaded (bundles are mounted into containers only)."""
    try:
        tao = importlib.util.find_spec(TAO_PACKAGE) is not None
    except (ImportError, ValueError):
        tao = False
    return not tao and delivery.bundle_marker() is None


def run(spec_path=None, overrides=()):
    _bootstrap._remove_sentinel()  # inspect, do not patch
    print(f"tao-sparse4d-fix {__version__} at {PACKAGE_DIR}")
    print(f"  python: {sys.executable} ({sys.version.split()[0]})")
    if on_host():
        return _run_on_host(spec_path, overrides)
    return _run_in_container(spec_path, overrides)


def _run_on_host(spec_path, overrides):
    problems = []
    print(f"  where: a host ({TAO_PACKAGE} is not importable in this Python): the container's checks (start-up hook, "
          f"wrapt, TAO's targets, {switches.ENABLE} in this shell) are not applicable here; inside the container: "
          "python -m tao_sparse4d_fix doctor")
    mounts_data = delivery.report_launcher(problems)
    if mounts_data is None:
        print("  TAO launcher (nvidia-tao): not installed in this Python, so nothing here decides how TAO runs")
    else:
        envs = {str(item["variable"]): str(item["value"]) for item in mounts_data.get("Envs", [])}
        _report_switches(envs, problems, f" in {mounts.path()}'s Envs")
    _report_spec(spec_path, overrides, "on", problems)
    return _verdict(problems, "a `tao model sparse4d` run would run stock TAO or be stopped")


def _report_switches(environ, problems, where=""):
    """The side components and the rank timeout (``environ`` None: this process's environment)."""
    found = _patches()
    try:
        if found is None:
            disabled = frozenset()
            print(f"  side components ({switches.DISABLE}{where}): not checked: wrapt is not importable here")
        else:
            components = found[0].COMPONENTS
            disabled = switches.disabled_components(components, environ)
            print(f"  side components switched off ({switches.DISABLE}{where}): {', '.join(sorted(disabled)) or 'none'}"
                  f" (names: {', '.join(components)})")
    except switches.InvalidSwitch as error:
        disabled = frozenset()
        problems.append(str(error))
    try:
        print(f"  {switches.RANK_TIMEOUT}{where}: {switches.rank_timeout(environ):g} s (in a distributed run each rank "
              "waits that long for every other rank's status at the first loss call)")
    except switches.InvalidSwitch as error:
        problems.append(str(error))
    return disabled


def _report_spec(spec_path, overrides, state, problems):
    try:
        value, source = modes.from_spec(spec_path, overrides)
        mode = modes.DEFAULT if value is None else modes.validate(value)
        label = spec_path or "a spec without the key"
        print(f"background_supervision for {label}: {mode} (from {source})")
        if state != "on" and source in ("spec", "override"):
            print("  note: without the plugin enabled, TAO's schema rejects this key")
    except (modes.InvalidMode, OSError) as error:
        problems.append(str(error))


def _verdict(problems, what):
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("ready" if not problems else f"NOT READY: {what}")
    return 1 if problems else 0


def _run_in_container(spec_path, overrides):
    problems = []
    state, raw = switches.read_enable()
    print(f"  start-up hook: {_pth_path() or 'MISSING (editable install?): the fix will not load by itself'}")
    print(f"  {switches.ENABLE}={raw!r}: {state}")
    if state == "invalid":
        problems.append(f"{switches.ENABLE}={raw!r} is not valid: use 1/true/on or 0/false/off")
    if state == "off":
        print("  the plugin is inert here: TAO trains with its stock loss")
    disabled = _report_switches(None, problems)
    if switches.forced():
        print(f"  {switches.FORCE} is set: unrecognised targets would be patched anyway")
    for distribution in versions.TAO_DISTRIBUTIONS:
        print(f"  {distribution}: {versions.installed(distribution) or 'not installed'}")
    print(f"  {versions.support_line()}")
    problems.extend(delivery.report(state))
    if _patches() is None:
        print("targets: not inspected: wrapt is not importable here (see above)")
    else:
        print("targets (core: the fix, all or nothing; side: each on its own):")
        for patch, target, verdict, detail in _inspect_targets(disabled):
            print(f"  [{verdict}] {patch.role} {target}: {detail}")
            if verdict == "UNKNOWN" and state == "on" and not switches.forced():
                problems.append(f"{target}: {detail}")
    _report_spec(spec_path, overrides, state, problems)
    return _verdict(problems, "a training run here would be stopped")
