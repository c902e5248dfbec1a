"""One module per patched TAO target; ``ALL`` is the order they are listed in."""
from tao_sparse4d_fix.patches import (
    criterion_diagnostics,
    decoder,
    focal_loss,
    loss_schema,
    set_criterion,
    yawness_loss,
)

ALL = (
    loss_schema.PATCH,
    focal_loss.PATCH,
    set_criterion.PATCH,
    criterion_diagnostics.PATCH,
    yawness_loss.PATCH,
    decoder.PATCH,
)
