"""Registers the post-import hooks and applies every patch of a TAO module.

A module is patched all or nothing: if one of its targets holds code the patch
does not recognise, the patches already applied to it are undone and the import
fails with a message naming the TAO version, the target and what was expected,
so training never starts with half a fix.
"""
import os
import sys
from dataclasses import dataclass

from tao_sparse4d_fix import versions
from tao_sparse4d_fix.patches import ALL

FORCE_VAR = "TAO_SPARSE4D_FIX_FORCE"
CRITERION_MODULE = "nvidia_tao_pytorch.cv.sparse4d.model.criterion"


class UnsupportedTaoCode(ImportError):
    """A patch target holds code this version of the plugin does not know."""


class InvalidSwitch(ImportError):
    """``TAO_SPARSE4D_FIX`` holds a value that is neither on nor off."""


@dataclass(frozen=True)
class PatchStatus:
    target: str
    title: str
    applied: bool
    why: str


_state = {"installed": False, "enabled": False, "refusal": None}
_status = {}


def forced():
    return os.environ.get(FORCE_VAR, "").strip().lower() in ("1", "true", "on")


def module_names():
    return sorted({name for patch in ALL for name in patch.modules})


def install():
    """Patch TAO's modules as they are imported (at once if already imported)."""
    _state["enabled"] = True
    if _state["installed"]:  # hooks already fired for imported modules: re-patch them
        for name in module_names():
            if name in sys.modules:
                patch_module(sys.modules[name])
    _register_hooks()


def install_refusal(raw_value):
    """Make TAO's criterion import fail, naming the bad ``TAO_SPARSE4D_FIX``."""
    _state["refusal"] = (
        f"tao-sparse4d-fix: TAO_SPARSE4D_FIX={raw_value!r} is not a valid value. "
        "Use 1, true or on to enable the fix; 0, false, off or unset to disable it."
    )
    _register_hooks()


def uninstall():
    """Undo every applied patch and stop patching modules imported later."""
    _state["enabled"] = False
    _state["refusal"] = None
    for name in module_names():
        if name in sys.modules:
            for patch in _patches_for(name):
                patch.revert(sys.modules[name])
    _status.clear()


def statuses():
    """One row per target: applied, or why not (including not imported yet)."""
    rows = []
    for patch in ALL:
        imported = [name for name in patch.modules if name in sys.modules]
        for name in imported or patch.modules[:1]:
            target = patch.target(name)
            rows.append(_status.get(target) or PatchStatus(target, patch.title, False, "module not imported yet"))
    return rows


def _register_hooks():
    if _state["installed"]:
        return
    import wrapt

    for name in module_names():
        wrapt.register_post_import_hook(_on_import, name)
    _state["installed"] = True


def _on_import(module):
    if _state["refusal"] and module.__name__ == CRITERION_MODULE:
        raise InvalidSwitch(_state["refusal"])
    if _state["enabled"]:
        patch_module(module)


def _patches_for(module_name):
    return [patch for patch in ALL if module_name in patch.modules]


def patch_module(module):
    """Apply every patch that targets ``module``, or none of them."""
    applied = []
    for patch in _patches_for(module.__name__):
        target = patch.target(module.__name__)
        recognition = patch.recognise(module)
        if not recognition.known and not forced():
            for done in applied:
                done.revert(module)
                _status[done.target(module.__name__)] = PatchStatus(
                    done.target(module.__name__), done.title, False, f"rolled back: {target} unrecognised"
                )
            _status[target] = PatchStatus(target, patch.title, False, recognition.detail)
            raise UnsupportedTaoCode(
                f"tao-sparse4d-fix: cannot patch {target} in nvidia-tao-pytorch "
                f"{versions.tao_version()}: {recognition.detail}; expected {patch.expected()}. "
                "Nothing in this module was patched, and the run is stopped so that it "
                "does not train without the fix. Upgrade tao-sparse4d-fix, unset "
                f"TAO_SPARSE4D_FIX to run stock TAO, or set {FORCE_VAR}=1 to patch anyway."
            )
        patch.apply(module)
        why = recognition.detail if recognition.known else f"forced ({FORCE_VAR}=1) over {recognition.detail}"
        _status[target] = PatchStatus(target, patch.title, True, why)
        applied.append(patch)
