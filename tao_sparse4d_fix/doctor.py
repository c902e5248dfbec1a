"""``tao-sparse4d-fix doctor``: will the fix be active in this container, and how?

Run it before a multi-hour job. It inspects without patching: it imports TAO's
target modules with the plugin's hooks held back and checks each target's code.
Exit status 1 means a training run here would be stopped (or would run stock).
"""
import importlib
import os
import sys

from tao_sparse4d_fix import __version__, _bootstrap, modes, registry, versions
from tao_sparse4d_fix import delivery
from tao_sparse4d_fix.patches import ALL


def _pth_path():
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(package_parent, "tao_sparse4d_fix.pth")
    return path if os.path.isfile(path) else None


def _inspect_targets():
    """Yield (target, ok, detail) for every patch target this TAO provides."""
    for patch in ALL:
        found = False
        for name in patch.modules:
            try:
                module = importlib.import_module(name)
            except ImportError as error:
                if name == patch.modules[-1] and not found:
                    yield patch.target(name), False, f"cannot import: {error}"
                continue
            found = True
            recognition = patch.recognise(module)
            yield patch.target(name), recognition.known, recognition.detail


def spec_mode(spec_path, overrides):
    """(mode, source) a run of ``spec_path`` with ``overrides`` would select."""
    for override in overrides:
        key, _, value = override.partition("=")
        if key.lstrip("+~") == modes.CONFIG_KEY:
            return modes.validate(value), "override"
    if spec_path:
        import yaml

        with open(spec_path) as handle:
            node = yaml.safe_load(handle) or {}
        for part in modes.CONFIG_KEY.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            return modes.validate(node), "spec"
    return modes.DEFAULT, "default"


def run(spec_path=None, overrides=()):
    _bootstrap._remove_sentinel()  # inspect, do not patch
    problems = []
    state, raw = _bootstrap.read_switch()
    print(f"tao-sparse4d-fix {__version__} at {os.path.dirname(os.path.abspath(__file__))}")
    print(f"  start-up hook: {_pth_path() or 'MISSING (editable install?): the fix will not load by itself'}")
    print(f"  python: {sys.executable} ({sys.version.split()[0]})")
    print(f"  {_bootstrap.ENV_VAR}={raw!r}: {state}")
    if state == "invalid":
        problems.append(f"{_bootstrap.ENV_VAR}={raw!r} is not valid: use 1/true/on or 0/false/off")
    if state == "off":
        print("  the plugin is inert here: TAO trains with its stock loss")
    if registry.forced():
        print(f"  {registry.FORCE_VAR} is set: unrecognised targets would be patched anyway")
    for distribution in versions.TAO_DISTRIBUTIONS:
        print(f"  {distribution}: {versions.installed(distribution) or 'not installed'}")
    problems.extend(delivery.report(state))
    print("targets:")
    for target, ok, detail in _inspect_targets():
        print(f"  [{'ok' if ok else 'UNKNOWN'}] {target}: {detail}")
        if not ok and state == "on" and not registry.forced():
            problems.append(f"{target}: {detail}")
    try:
        mode, source = spec_mode(spec_path, overrides)
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
