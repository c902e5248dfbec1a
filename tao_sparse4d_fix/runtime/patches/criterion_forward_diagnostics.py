"""Target: ``criterion.SetCriterion.forward``: add the diagnostics scalars (side: ``diagnostics``).

While the criterion runs, a forward hook on its ``loss_cls`` sees each
classification-loss call (its inputs and the loss it returned); the call whose
logits are (a view of) the last decoder layer's classification output is the
main-query call, summarised by ``runtime.diagnostics``. The losses themselves
are untouched.
"""
from tao_sparse4d_fix.runtime import criterion_state, modes, versions
from tao_sparse4d_fix.runtime.patches._base import MethodPatch


def _is_view_of(logits, layer):
    return logits.data_ptr() == layer.data_ptr() and logits.numel() == layer.numel()


def add_diagnostics(wrapped, instance, args, kwargs):
    state = criterion_state.of(instance)
    if state is None:  # built before the plugin was installed
        return wrapped(*args, **kwargs)
    from tao_sparse4d_fix.runtime import diagnostics  # torch: imported once TAO runs, never at start-up

    last_layer = (args[0] if args else kwargs["raw_model_outs"])[0]["classification"][-1]
    main_calls = []

    def record(module, call_args, call_kwargs, value):
        logits = call_args[0] if call_args else call_kwargs["pred"]
        if not main_calls and _is_view_of(logits, last_layer):
            target = call_args[1] if len(call_args) > 1 else call_kwargs["target"]
            avg_factor = call_args[3] if len(call_args) > 3 else call_kwargs.get("avg_factor")
            main_calls.append(diagnostics.LossCall(logits.detach(), target, avg_factor, value.detach()))

    hook = instance.loss_cls.register_forward_hook(record, with_kwargs=True)
    try:
        output = wrapped(*args, **kwargs)
    finally:
        hook.remove()
    if main_calls:
        background = modes.background_rows(state.mode, criterion_state.contract().stock_background)
        output.update(diagnostics.scalars(main_calls[0], loss_module=instance.loss_cls, batch_size=last_layer.shape[0],
                                          score_threshold=state.score_threshold, background=background))
    return output


PATCH = MethodPatch(
    title="criterion adds background-score diagnostics",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.criterion",),
    qualname="SetCriterion.forward",
    known=versions.known_code("SetCriterion.forward"),
    wrapper=add_diagnostics,
    component="diagnostics",
)
