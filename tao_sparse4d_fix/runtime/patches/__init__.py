"""One module per patched TAO target, named after the target and its job.

``ALL`` is the order they are applied and listed in. Core patches (no
``component``) are the fix itself; side patches each have a component name
that ``TAO_SPARSE4D_FIX_DISABLE`` can switch off
(``temporal_align`` spans four targets).
"""
from tao_sparse4d_fix.runtime.patches import (
    criterion_forward_diagnostics,
    criterion_init,
    decoder_decode,
    focal_loss_forward,
    head_continuity,
    head_forward,
    instance_bank_ids,
    mapped_query_gt_indices,
    nan_guard,
    pl_model_init,
    schema_field,
    target_sample,
)

ALL = (
    schema_field.PATCH,
    focal_loss_forward.PATCH,
    criterion_init.PATCH,
    criterion_forward_diagnostics.PATCH,
    nan_guard.PATCH,
    decoder_decode.PATCH,
    schema_field.TRACK_ID_PATCH,
    head_continuity.PATCH,
    instance_bank_ids.PATCH,
    pl_model_init.PATCH,
    head_forward.PATCH,
    target_sample.PATCH,
    mapped_query_gt_indices.PATCH,
)
COMPONENTS = tuple(dict.fromkeys(patch.component for patch in ALL if patch.component))  # a component may span targets
