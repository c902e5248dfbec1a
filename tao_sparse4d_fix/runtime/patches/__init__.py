"""One module per patched TAO target, named after the target and its job.

``ALL`` is the order they are applied and listed in. Core patches (no
``component``) are the fix itself; side patches each have a component name
that ``TAO_SPARSE4D_FIX_DISABLE`` can switch off.
"""
from tao_sparse4d_fix.runtime.patches import (
    criterion_forward_diagnostics,
    criterion_init,
    decoder_decode,
    focal_loss_forward,
    head_continuity,
    instance_bank_ids,
    nan_guard,
    schema_field,
)

ALL = (
    schema_field.PATCH,
    focal_loss_forward.PATCH,
    criterion_init.PATCH,
    criterion_forward_diagnostics.PATCH,
    nan_guard.PATCH,
    decoder_decode.PATCH,
    schema_field.CONTINUITY_PATCH,
    head_continuity.PATCH,
    instance_bank_ids.PATCH,
)
COMPONENTS = tuple(dict.fromkeys(patch.component for patch in ALL if patch.component))
