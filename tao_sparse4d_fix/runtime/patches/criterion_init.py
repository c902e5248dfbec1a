"""Target: ``criterion.SetCriterion.__init__``, where the spec reaches the loss (core).

After TAO builds its criterion, read ``model.head.loss.cls.background_supervision``
and share the mode, through one ``CriterionState``, with the criterion's
``FocalLoss``. An invalid value raises here, while the model is being built, so
the run stops before its first step.

Known text is recognised by fingerprint. New text is accepted by structure
where that is safe: ``__init__(self, model_config, ...)`` that assigns
``self.loss_cls``; when TAO builds the criterion, ``loss_cls`` must then be the
module's ``FocalLoss`` and ``model_config`` must hold ``head.loss.cls``, or the
run stops.
"""
import ast
import inspect
import sys
import textwrap

from tao_sparse4d_fix.runtime import criterion_state, modes, run_log, versions
from tao_sparse4d_fix.runtime.patches._base import MethodPatch, Recognition, UnsupportedTaoCode, unrecognised

STRUCTURE = "__init__(self, model_config, ...) assigns self.loss_cls"


def _model_config(args, kwargs):
    return args[0] if args else kwargs["model_config"]


def _decoder_score_threshold(model_config):
    """The inference threshold the diagnostics count against (TAO's default if unset)."""
    try:
        return float(model_config["head"]["decoder"]["score_threshold"])
    except (KeyError, TypeError, ValueError):
        return criterion_state.DEFAULT_SCORE_THRESHOLD


def _cls_node_and_loss(instance, model_config):
    """``model.head.loss.cls`` and the FocalLoss it configures, or stop the run naming what is not there."""
    focal_loss_class = getattr(sys.modules[type(instance).__module__], "FocalLoss", None)
    loss = getattr(instance, "loss_cls", None)
    try:
        node = model_config["head"]["loss"]["cls"]
    except (KeyError, TypeError) as error:
        raise UnsupportedTaoCode(f"tao-sparse4d-fix: SetCriterion got a model_config without head.loss.cls ({error!r})")
    if focal_loss_class is None or not isinstance(loss, focal_loss_class):
        raise UnsupportedTaoCode(
            f"tao-sparse4d-fix: SetCriterion.loss_cls is {type(loss).__name__}, not the FocalLoss the fix configures; "
            "the run is stopped so that it does not train without the fix."
        )
    return node, loss


def carry_mode(wrapped, instance, args, kwargs):
    wrapped(*args, **kwargs)
    model_config = _model_config(args, kwargs)
    node, loss = _cls_node_and_loss(instance, model_config)
    mode, source = modes.from_cls_config(node)
    contract = criterion_state.contract()
    if mode == modes.UNMATCHED_ONLY and not contract.wrapped:
        raise modes.InvalidMode(
            f"tao-sparse4d-fix: {modes.CONFIG_KEY}={mode!r} cannot run here: this TAO's FocalLoss already "
            "supervises every row and is left as it is; valid values here are: original, corrected."
        )
    state = criterion_state.CriterionState(mode, source, _decoder_score_threshold(model_config))
    criterion_state.attach(state, instance, loss)
    run_log.print_status_once(state, stock_loss_kept=not contract.wrapped)


def _has_structure(init):
    """True if ``init`` takes ``(self, model_config, ...)`` and assigns ``self.loss_cls``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
    function = tree.body[0]
    names = [arg.arg for arg in function.args.args[:2]]
    assigns = any(
        isinstance(target, ast.Attribute) and target.attr == "loss_cls"
        and isinstance(target.value, ast.Name) and target.value.id == "self"
        for node in ast.walk(function) if isinstance(node, (ast.Assign, ast.AnnAssign))
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
    )
    return names == ["self", "model_config"] and assigns


class CriterionInitPatch(MethodPatch):
    """The fingerprint fast path, then recognition by structure."""

    def recognise_unknown(self, module, current, found):
        if _has_structure(getattr(current, "__wrapped__", current)):
            return Recognition(True, f"{unrecognised(found)}; structure holds ({STRUCTURE}): carries the mode by structure")
        return Recognition(False, f"{unrecognised(found)}, and not {STRUCTURE}")


PATCH = CriterionInitPatch(
    title="criterion reads the spec's background_supervision",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.criterion",),
    qualname="SetCriterion.__init__",
    known=versions.known_code("SetCriterion.__init__"),
    wrapper=carry_mode,
)
