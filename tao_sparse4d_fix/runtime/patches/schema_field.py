"""Targets: TAO's schema dataclasses that receive the plugin's spec keys.

``SchemaFieldPatch`` adds fields to one config dataclass so TAO's Hydra
schema accepts the keys in a spec and as overrides, while every other unknown
key is still rejected. TAO's ``DATACLASS_FIELD`` captures default instances of
these classes at import, so a subclass rebound on the module would never be
seen: the existing class is extended in place, and the originals are kept for
``revert``.

The keys: ``model.head.loss.cls.background_supervision`` (core: the fix's mode)
and the track-ID keys of ``model.head.instance_bank`` (side ``id_continuity``;
``runtime.id_settings``).
"""
import dataclasses
from typing import Callable, Mapping, Optional, Tuple

from tao_sparse4d_fix.runtime import id_settings, modes, versions
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
class NewField:
    name: str
    annotation: type
    default: object
    make_field: Callable  # make_field(schema_module) -> TAO's *_FIELD for the new key


@dataclasses.dataclass(frozen=True)
class SchemaFieldPatch(Patch):
    """Add ``fields`` to the dataclass ``qualname`` of TAO's schema, in place."""

    qualname: str  # the dataclass
    fields: Tuple[NewField, ...]
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
        added = {f.name for f in self.fields} if self.is_applied(module) else set()
        names = tuple(f.name for f in dataclasses.fields(cls) if f.name not in added)
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
        extended = dataclasses.make_dataclass(
            self.qualname, specs + [(f.name, f.annotation, f.make_field(module)) for f in self.fields])
        saved = {name: vars(cls)[name] for name in _REPLACED if name in vars(cls)}
        saved["__annotations__"] = dict(cls.__annotations__)
        for name in _REPLACED:
            if name in vars(extended):
                setattr(cls, name, vars(extended)[name])
        for f in self.fields:
            cls.__annotations__[f.name] = f.annotation
            setattr(cls, f.name, f.default)
        setattr(cls, _SAVED, saved)

    def revert(self, module):
        if not self.is_applied(module):
            return
        cls = getattr(module, self.qualname)
        saved = vars(cls)[_SAVED]
        delattr(cls, _SAVED)
        for f in self.fields:
            delattr(cls, f.name)
        cls.__annotations__.clear()
        cls.__annotations__.update(saved.pop("__annotations__"))
        for name, value in saved.items():
            setattr(cls, name, value)


PATCH = SchemaFieldPatch(
    qualname="Sparse4DLossClsConfig",
    fields=(NewField(modes.FIELD, str, modes.DEFAULT, lambda schema: schema.STR_FIELD(
        value=modes.DEFAULT,
        default_value=modes.DEFAULT,
        valid_options=",".join(modes.MODES),
        description="Which classification rows get loss (tao-sparse4d-fix)",
        display_name="Background supervision",
    )),),
    stock_fields=versions.known_schema("Sparse4DLossClsConfig"),
    title=f"spec key {modes.CONFIG_KEY}",
)


def _track_field(key):
    """The schema field of one track-ID key, as TAO declares its own (valid range or options in the metadata)."""
    def make(schema):
        common = dict(value=key.default, default_value=key.default, display_name=key.name.replace("_", " "),
                      description=f"{key.description} (tao-sparse4d-fix)")
        if key.options:
            return schema.STR_FIELD(valid_options=",".join(key.options), **common)
        maker = schema.INT_FIELD if key.kind is int else schema.FLOAT_FIELD
        return maker(valid_min=key.low, valid_max=key.high, **common)
    return NewField(key.name, key.kind, key.default, make)


TRACK_ID_PATCH = SchemaFieldPatch(
    qualname="Sparse4DInstanceBankConfig",
    fields=tuple(_track_field(key) for key in id_settings.KEYS),
    stock_fields=versions.known_schema("Sparse4DInstanceBankConfig"),
    title=f"spec keys {id_settings.NODE}.{{{','.join(key.name for key in id_settings.KEYS)}}}",
    component="id_continuity",
)
