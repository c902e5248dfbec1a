"""Target: TAO's ``Sparse4DLossClsConfig`` schema dataclass (core).

Adds ``background_supervision`` so TAO's Hydra schema accepts the key in a spec
and as an override, while every other unknown key is still rejected. TAO's
``DATACLASS_FIELD`` captures default instances of this class at import, so a
subclass rebound on the module would never be seen: the existing class is
extended in place, and the originals are kept for ``revert``.
"""
import dataclasses

from tao_sparse4d_fix.runtime import modes, versions
from tao_sparse4d_fix.runtime.patches._base import Patch, Recognition

CLASS_NAME = "Sparse4DLossClsConfig"
STOCK_FIELDS = ("type", "use_sigmoid", "gamma", "alpha", "loss_weight")
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


class SchemaFieldPatch(Patch):
    """Add one field to one TAO config dataclass, in place."""

    title = "spec key model.head.loss.cls.background_supervision"
    modules = versions.schema_modules()  # the schema moved into nvidia_tao_pytorch in 7.0
    qualname = CLASS_NAME
    component = None

    def known_releases(self):
        return tuple(r.tao for r in versions.RELEASES)  # the same five fields in every release

    def expected(self):
        return f"a dataclass with exactly the fields {', '.join(STOCK_FIELDS)}"

    def recognise(self, module):
        cls = getattr(module, CLASS_NAME, None)
        if cls is None or not dataclasses.is_dataclass(cls):
            return Recognition(False, f"{CLASS_NAME} is missing")
        names = tuple(f.name for f in dataclasses.fields(cls) if f.name != modes.FIELD or not self.is_applied(module))
        if names == STOCK_FIELDS:
            return Recognition(True, f"stock schema of TAO {versions.all_releases()}")
        return Recognition(False, f"unknown schema fields: {', '.join(names)}")

    def is_applied(self, module):
        return _SAVED in vars(getattr(module, CLASS_NAME))

    def apply(self, module, recognition=None):
        if self.is_applied(module):
            return
        cls = getattr(module, CLASS_NAME)
        new_field = module.STR_FIELD(
            value=modes.DEFAULT,
            default_value=modes.DEFAULT,
            valid_options=",".join(modes.MODES),
            description="Which classification rows get loss (tao-sparse4d-fix)",
            display_name="Background supervision",
        )
        specs = [(f.name, f.type, _copy(f)) for f in dataclasses.fields(cls)]
        extended = dataclasses.make_dataclass(CLASS_NAME, specs + [(modes.FIELD, str, new_field)])
        saved = {name: vars(cls)[name] for name in _REPLACED if name in vars(cls)}
        saved["__annotations__"] = dict(cls.__annotations__)
        for name in _REPLACED:
            if name in vars(extended):
                setattr(cls, name, vars(extended)[name])
        cls.__annotations__[modes.FIELD] = str
        setattr(cls, modes.FIELD, modes.DEFAULT)
        setattr(cls, _SAVED, saved)

    def revert(self, module):
        if not self.is_applied(module):
            return
        cls = getattr(module, CLASS_NAME)
        saved = vars(cls)[_SAVED]
        delattr(cls, _SAVED)
        delattr(cls, modes.FIELD)
        cls.__annotations__.clear()
        cls.__annotations__.update(saved.pop("__annotations__"))
        for name, value in saved.items():
            setattr(cls, name, value)


PATCH = SchemaFieldPatch()
