"""Registers the post-import hooks and applies the patches of each TAO module.

Core patches (the spec key, the loss, and the criterion that carries the mode
between them) apply together or not at all: if one finds code it does not
recognise, nothing in its module is patched and the import fails with a message
naming the TAO version, the target and what was expected, so training never
starts with half a fix. Side patches (decoder, NaN guard, diagnostics) stand
alone: one switched off by ``TAO_SPARSE4D_FIX_DISABLE``, or finding unknown
code, is skipped with a status row and one warning line.
"""
import sys
from dataclasses import dataclass
from typing import Callable, FrozenSet, NamedTuple, Optional

from tao_sparse4d_fix.runtime import run_log, status, versions
from tao_sparse4d_fix import switches
from tao_sparse4d_fix.runtime.patches import ALL, COMPONENTS
from tao_sparse4d_fix.runtime.patches._base import UnsupportedTaoCode, inspect_target

CRITERION_MODULE = "nvidia_tao_pytorch.cv.sparse4d.model.criterion"


@dataclass
class _State:
    """What the registry has done in this interpreter (one instance, ``_state``)."""

    installed: bool = False  # the post-import hooks are registered (once per process)
    enabled: bool = False  # TAO's modules are patched as they are imported
    refusal: Optional[str] = None  # a bad switch's message: TAO's criterion import fails with it
    disabled: FrozenSet[str] = frozenset()  # the side components switched off


_state = _State()


def module_names():
    return sorted({name for patch in ALL for name in patch.modules})


def install():
    """Patch TAO's modules as they are imported (at once if already imported)."""
    try:
        _state.disabled = switches.disabled_components(COMPONENTS)
        switches.rank_timeout()  # refused here, before any step, not at the first loss call
    except switches.InvalidSwitch as error:
        install_refusal(str(error))
        return
    _state.enabled = True
    _state.refusal = None
    for order, patch in enumerate(ALL):
        status.record(status.PatchStatus(order, patch.target(), patch.title, patch.role, False, status.NOT_IMPORTED))
    if _state.installed:  # hooks already fired for imported modules: re-patch them
        for name in module_names():
            if name in sys.modules:
                patch_module(sys.modules[name])
    _register_hooks()


def install_refusal(message):
    """Make TAO's criterion import fail with ``message`` (a bad switch value)."""
    _state.refusal = message
    _register_hooks()
    if CRITERION_MODULE in sys.modules:  # imported already: its hook will not fire again
        raise switches.InvalidSwitch(message)


def uninstall():
    """Undo every applied patch and stop patching modules imported later."""
    _state.enabled = False
    _state.refusal = None
    for name in module_names():
        if name in sys.modules:
            for _, patch in _patches_for(name):
                patch.revert(sys.modules[name])
    status.clear()


def _register_hooks():
    if _state.installed:
        return
    import wrapt

    for name in module_names():
        wrapt.register_post_import_hook(_on_import, name)
    _state.installed = True


def _on_import(module):
    if _state.refusal and module.__name__ == CRITERION_MODULE:
        raise switches.InvalidSwitch(_state.refusal)
    if _state.enabled:
        patch_module(module)


class _Planned(NamedTuple):
    """A patch of a module about to be applied, once every core patch there is known to apply."""

    patch: object  # a patches._base.Patch
    recognition: object  # what ``patch.recognise`` found
    row: Callable  # row(applied, why) records its status row
    why: str  # the status row's reason once applied


def _patches_for(module_name):
    return [(order, patch) for order, patch in enumerate(ALL) if module_name in patch.modules]


def patch_module(module):
    """Apply the core patches of ``module`` all or none, and each side patch on its own."""
    name = module.__name__
    plan = []
    for order, patch in _patches_for(name):
        target = patch.target(name)

        def row(applied, why, order=order, patch=patch, target=target):
            status.record(status.PatchStatus(order, target, patch.title, patch.role, applied, why))

        if patch.component in _state.disabled:
            patch.revert(module)  # applied by an earlier install without the switch
            row(False, f"switched off ({switches.DISABLE}={patch.component})")
            continue
        recognition = inspect_target(patch, module)
        if recognition.known:
            plan.append(_Planned(patch, recognition, row, recognition.detail))
        elif switches.forced():
            plan.append(_Planned(patch, recognition, row, f"forced ({switches.FORCE}=1) over {recognition.detail}"))
        elif patch.component:
            row(False, f"{recognition.detail}; skipped")
            run_log.warn(f"{target} holds {recognition.detail} in nvidia-tao-pytorch {versions.tao_version()}: "
                        f"its side patch ({patch.component}) is skipped; the core fix is unaffected")
        else:
            row(False, recognition.detail)
            for _, other in _patches_for(name):
                other.revert(module)
            raise UnsupportedTaoCode(
                f"tao-sparse4d-fix: cannot patch {target} in nvidia-tao-pytorch "
                f"{versions.tao_version()}: {recognition.detail}; expected {patch.expected()}. "
                "Nothing in this module was patched, and the run is stopped so that it "
                "does not train without the fix. Upgrade tao-sparse4d-fix, unset "
                f"TAO_SPARSE4D_FIX to run stock TAO, or set {switches.FORCE}=1 to patch anyway."
            )
    for patch, recognition, row, why in plan:
        try:
            patch.apply(module, recognition)
        except Exception as error:
            if not patch.component:  # roll the module back: no half fix
                for _, other in _patches_for(name):
                    other.revert(module)
                raise
            row(False, f"failed to apply ({error!r}); skipped")
            run_log.warn(f"{patch.target(name)}: its side patch ({patch.component}) failed to apply: {error!r}")
            continue
        row(patch.is_applied(module), why)
