"""The contract every patch implements, and the generic way to wrap one TAO method.

``Patch`` declares it, in the spirit of OpenTelemetry's ``BaseInstrumentor`` and
ddtrace's ``patch``/``unpatch``: a patch names its target, its role (core or
side), the TAO releases whose code it knows (from ``runtime.versions``), how to
recognise that code, how to apply and undo itself, and whether it is applied.

A side patch (``component`` set) never breaks training: if its own code
raises, the call falls back to TAO's stock method, one warning line says so,
and the stock method is used from then on. A deliberate refusal (a
``PluginError``, such as a contradictory spec) is not a failure: it stops the
run like any other refusal.
"""
import abc
import functools
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Tuple

import wrapt

from tao_sparse4d_fix.errors import PluginError
from tao_sparse4d_fix.runtime import run_log, status, versions
from tao_sparse4d_fix.runtime.fingerprint import fingerprint

MARK = "_self_tao_sparse4d_fix"


class UnsupportedTaoCode(PluginError, ImportError):
    """A core patch target holds code this version of the plugin does not know: the run is stopped."""


@dataclass(frozen=True)
class Recognition:
    """Whether a target holds code the patch knows, and what it found out about it."""

    known: bool
    detail: str
    contract: Any = None  # patch-specific facts for ``apply`` (the loss's row contract)


def is_patched(function):
    """True when ``function`` is a wrapper one of the plugin's patches applied."""
    return bool(getattr(function, MARK, False))


def unrecognised(found):
    return f"unrecognised code (fingerprint {found})"


def inspect_target(patch, module):
    """``patch.recognise(module)``; a target that cannot be inspected (no source, say) is unrecognised."""
    try:
        return patch.recognise(module)
    except Exception as error:
        return Recognition(False, f"code that could not be inspected ({error!r})")


class Patch(abc.ABC):
    """What every patch is: the registry, the status table and the doctor use only this.

    Attributes every patch has: ``title`` (one line for people), ``modules`` (the
    TAO modules that may hold the target, oldest layout first), ``qualname`` (the
    target inside its module) and ``component`` (a side patch's name in
    ``TAO_SPARSE4D_FIX_DISABLE``; None for the core fix).
    """

    title: str
    modules: Tuple[str, ...]
    qualname: str
    component: Optional[str]

    @property
    def role(self):
        """``status.CORE`` (the fix, all or nothing) or ``status.SIDE`` (each on its own)."""
        return status.SIDE if self.component else status.CORE

    def target(self, module_name=None):
        """The target's dotted name in ``module_name`` (default: the oldest layout)."""
        return f"{module_name or self.modules[0]}.{self.qualname}"

    @abc.abstractmethod
    def known_releases(self) -> Tuple[str, ...]:
        """The TAO releases (of ``versions.RELEASES``) whose code at the target this patch knows."""

    @abc.abstractmethod
    def expected(self) -> str:
        """What the target should hold, as a refusal names it."""

    @abc.abstractmethod
    def recognise(self, module) -> "Recognition":
        """Whether ``module``'s target holds code this patch may change, without changing it."""

    @abc.abstractmethod
    def is_applied(self, module) -> bool:
        """True while this patch is applied to ``module``."""

    @abc.abstractmethod
    def apply(self, module, recognition=None):
        """Patch ``module``; a no-op when applied already."""

    @abc.abstractmethod
    def revert(self, module):
        """Put TAO's own objects back; a no-op when not applied."""


@dataclass(frozen=True)
class MethodPatch(Patch):
    """Wrap ``module.qualname`` with a wrapt function wrapper."""

    title: str
    modules: Tuple[str, ...]
    qualname: str
    known: Mapping[str, str]  # fingerprint -> the TAO releases that ship it (from ``versions.known_code``)
    wrapper: Callable
    component: Optional[str] = None  # a side patch's name in TAO_SPARSE4D_FIX_DISABLE; None: core

    def known_releases(self):
        return tuple(r.tao for r in versions.RELEASES if r.code.fingerprints.get(self.qualname) in self.known)

    def expected(self):
        return "; ".join(f"{fp} ({releases})" for fp, releases in self.known.items())

    def _owner(self, module):
        owner_path, _, attribute = self.qualname.rpartition(".")
        owner = module
        for part in filter(None, owner_path.split(".")):
            owner = getattr(owner, part)
        return owner, attribute

    def current(self, module):
        """The function the target holds now: TAO's own, or the wrapper once applied (None if missing)."""
        owner, attribute = self._owner(module)
        return owner.__dict__.get(attribute)

    def recognise(self, module):
        """The fingerprint fast path; code no fingerprint knows goes to ``recognise_unknown``."""
        current = self.current(module)
        if current is None:
            return Recognition(False, f"{self.qualname} is missing")
        found = fingerprint(current)
        if found in self.known:
            return self.recognise_known(found)
        return self.recognise_unknown(module, current, found)

    def recognise_known(self, found):
        return Recognition(True, f"stock code of TAO {self.known[found]}")

    def recognise_unknown(self, module, current, found):
        """Unrecognised, unless a patch can tell the stock contract by behaviour or structure."""
        return Recognition(False, unrecognised(found))

    def is_applied(self, module):
        return is_patched(self.current(module))

    def apply(self, module, recognition=None):
        if self.is_applied(module):
            return
        wrapper = self.wrapper if self.component is None else _falls_back_to_stock(self.wrapper, self.target(module.__name__))
        wrapt.wrap_function_wrapper(module, self.qualname, wrapper)
        setattr(self.current(module), MARK, True)

    def revert(self, module):
        if self.is_applied(module):
            owner, attribute = self._owner(module)
            setattr(owner, attribute, owner.__dict__[attribute].__wrapped__)


@dataclass
class _SidePatchHealth:
    """Set once a side patch's own code has raised: TAO's stock code runs from then on."""

    failure: Optional[Exception] = None


@dataclass
class _StockCall:
    """The stock method's result within one call of a side patch, once it has returned."""

    returned: bool = False
    result: Any = None
    raised: Optional[BaseException] = None  # what TAO's own code raised, passed on as it is


def _falls_back_to_stock(wrapper, target):
    """``wrapper`` that, when its own code raises, gives the stock call's result instead.

    TAO's own exceptions and the plugin's refusals (``PluginError``) pass through
    unchanged; the stock method is never run twice for one call.
    """
    health = _SidePatchHealth()

    def guarded(wrapped, instance, args, kwargs):
        if health.failure is not None:
            return wrapped(*args, **kwargs)
        call = _StockCall()

        @functools.wraps(wrapped)  # the wrapper may read the stock signature
        def stock(*stock_args, **stock_kwargs):
            try:
                call.result = wrapped(*stock_args, **stock_kwargs)
            except BaseException as error:
                call.raised = error
                raise
            call.returned = True
            return call.result

        try:
            return wrapper(stock, instance, args, kwargs)
        except PluginError:
            raise
        except Exception as error:
            if error is call.raised:
                raise  # TAO's own exception, its cause and context untouched
            health.failure = error
            run_log.warn(f"{target} (side patch) failed: {error!r}; TAO's stock code runs from now on")
            return call.result if call.returned else wrapped(*args, **kwargs)

    guarded.__name__ = guarded.__qualname__ = f"guarded_{wrapper.__name__}"
    return guarded
