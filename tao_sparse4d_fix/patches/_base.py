"""What every patch declares, and the generic way to wrap one TAO method.

A patch names its target, the TAO releases whose code it knows (by
fingerprint), how to recognise that code, and how to apply and undo itself, in
the spirit of OpenTelemetry instrumentors and ddtrace's ``patch``/``unpatch``.
"""
from dataclasses import dataclass
from typing import Callable, Mapping, Tuple

import wrapt

from tao_sparse4d_fix.fingerprint import fingerprint

MARK = "_self_tao_sparse4d_fix"


@dataclass(frozen=True)
class Recognition:
    """Whether a target holds code the patch knows, and which TAO ships it."""

    known: bool
    detail: str


@dataclass(frozen=True)
class MethodPatch:
    """Wrap ``module.qualname`` with a wrapt function wrapper."""

    title: str
    modules: Tuple[str, ...]
    qualname: str
    known: Mapping[str, str]  # fingerprint -> the TAO releases that ship it
    wrapper: Callable

    def target(self, module_name=None):
        return f"{module_name or self.modules[0]}.{self.qualname}"

    def expected(self):
        return "; ".join(f"{fp} ({releases})" for fp, releases in self.known.items())

    def _owner(self, module):
        owner_path, _, attribute = self.qualname.rpartition(".")
        owner = module
        for part in filter(None, owner_path.split(".")):
            owner = getattr(owner, part)
        return owner, attribute

    def recognise(self, module):
        owner, attribute = self._owner(module)
        current = owner.__dict__.get(attribute)
        if current is None:
            return Recognition(False, f"{self.qualname} is missing")
        found = fingerprint(current)
        if found in self.known:
            return Recognition(True, f"stock code of TAO {self.known[found]}")
        return Recognition(False, f"unknown code (fingerprint {found})")

    def is_applied(self, module):
        owner, attribute = self._owner(module)
        return getattr(owner.__dict__.get(attribute), MARK, False)

    def apply(self, module):
        if self.is_applied(module):
            return
        wrapt.wrap_function_wrapper(module, self.qualname, self.wrapper)
        owner, attribute = self._owner(module)
        setattr(owner.__dict__[attribute], MARK, True)

    def revert(self, module):
        if self.is_applied(module):
            owner, attribute = self._owner(module)
            setattr(owner, attribute, owner.__dict__[attribute].__wrapped__)
