"""Targets: TAO's schema dataclasses that receive the plugin's spec keys.

``SchemaFieldPatch`` adds one field to one config dataclass so TAO's Hydra
schema accepts the key in a spec and as an override, while every other unknown
key is still rejected. TAO's ``DATACLASS_FIELD`` captures default instances of
these classes at import, so a subclass rebound on the module would never be
seen: the existing class is extended in place, and the originals are kept for
``revert``.

Two keys: ``model.head.loss.cls.background_supervision`` (core: the fix's mode)
and ``model.head.instance_bank.id_continuity_gate`` (side ``id_continuity``).
"""
import dataclasses
from typing import Callable, Mapping, Optional, Tuple

from tao_sparse4d_fix.runtime import continuity, modes, versions
from tao_sparse4d_fix.runtime.patches._base import Patch, Recognition

_SAVED = "_tao_sparse4d_fix_saved"
_REPLACED = ("__init__", "__repr__", "__eq__", "__match_args__", "__dataclass_fields__")


def _copy(field):
    return dataclasses.field(
        default=field.default,
        default_factory=field.default_factory,
        init=field.init,
        repr=field.repr,
        hash=field.hash,
        compare=field.compare,
        metadata=field.metadata,
    )


@dataclasses.dataclass(frozen=True)
class SchemaFieldPatch(Patch):
    """Add the field ``name`` to the dataclass ``qualname`` of TAO's schema, in place."""

    qualname: str  # the dataclass
    name: str  # the field added
    annotation: type
    default: object
    make_field: Callable  # make_field(schema_module) -> TAO's *_FIELD for the new key
    stock_fields: Mapping[Tuple[str, ...], str]  # the dataclass's own fields -> the releases that ship them
    title: str
    component: Optional[str] = None
    modules: Tuple[str, ...] = versions.schema_modules()  # the schema moved into nvidia_tao_pytorch in 7.0

    def known_releases(self):
        return tuple(r.tao for r in versions.RELEASES)

    def expected(self):
        return "; ".join(f"a dataclass with exactly the fields {', '.join(fields)} ({releases})"
                         for fields, releases in self.stock_fields.items())

    def recognise(self, module):
        cls = getattr(module, self.qualname, None)
        if cls is None or not dataclasses.is_dataclass(cls):
            return Recognition(False, f"{self.qualname} is missing")
        names = tuple(f.name for f in dataclasses.fields(cls) if f.name != self.name or not self.is_applied(module))
        if names in self.stock_fields:
            return Recognition(True, f"stock schema of TAO {self.stock_fields[names]}")
        return Recognition(False, f"unknown schema fields: {', '.join(names)}")

    def is_applied(self, module):
        return _SAVED in vars(getattr(module, self.qualname))

    def apply(self, module, recognition=None):
        if self.is_applied(module):
            return
        cls = getattr(module, self.qualname)
        specs = [(f.name, f.type, _copy(f)) for f in dataclasses.fields(cls)]
        extended = dataclasses.make_dataclass(self.qualname, specs + [(self.name, self.annotation, self.make_field(module))])
        saved = {name: vars(cls)[name] for name in _REPLACED if name in vars(cls)}
        saved["__annotations__"] = dict(cls.__annotations__)
        for name in _REPLACED:
            if name in vars(extended):
                setattr(cls, name, vars(extended)[name])
        cls.__annotations__[self.name] = self.annotation
        setattr(cls, self.name, self.default)
        setattr(cls, _SAVED, saved)

    def revert(self, module):
        if not self.is_applied(module):
            return
        cls = getattr(module, self.qualname)
        saved = vars(cls)[_SAVED]
        delattr(cls, _SAVED)
        delattr(cls, self.name)
        cls.__annotations__.clear()
        cls.__annotations__.update(saved.pop("__annotations__"))
        for name, value in saved.items():
            setattr(cls, name, value)


PATCH = SchemaFieldPatch(
    qualname="Sparse4DLossClsConfig",
    name=modes.FIELD,
    annotation=str,
    default=modes.DEFAULT,
    make_field=lambda schema: schema.STR_FIELD(
        value=modes.DEFAULT,
        default_value=modes.DEFAULT,
        valid_options=",".join(modes.MODES),
        description="Which classification rows get loss (tao-sparse4d-fix)",
        display_name="Background supervision",
    ),
    stock_fields=versions.known_schema("Sparse4DLossClsConfig"),
    title=f"spec key {modes.CONFIG_KEY}",
)

CONTINUITY_PATCH = SchemaFieldPatch(
    qualname="Sparse4DInstanceBankConfig",
    name=continuity.FIELD,
    annotation=float,
    default=continuity.DEFAULT,
    make_field=lambda schema: schema.FLOAT_FIELD(
        value=continuity.DEFAULT,
        default_value=continuity.DEFAULT,
        valid_min=0,
        valid_max=continuity.MAX_GATE,
        description="Metres within which a fresh detection takes a carried track's ID; 0: TAO's own IDs (tao-sparse4d-fix)",
        display_name="ID continuity gate",
    ),
    stock_fields=versions.known_schema("Sparse4DInstanceBankConfig"),
    title=f"spec key {continuity.CONFIG_KEY}",
    component="id_continuity",
)
