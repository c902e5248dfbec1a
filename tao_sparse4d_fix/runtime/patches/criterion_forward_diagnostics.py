"""Target: ``criterion.SetCriterion.forward``: add the diagnostics scalars (side: ``diagnostics``).

While the criterion runs, a forward pre-hook on its ``loss_cls`` records each
classification-loss call; the call whose logits are (a view of) the last decoder
layer's classification output is the main-query call, summarised by
``tao_sparse4d_fix.runtime.diagnostics``. The losses themselves are untouched.
"""
from tao_sparse4d_fix.runtime import criterion_state, modes
from tao_sparse4d_fix.runtime.patches._base import MethodPatch


def _is_view_of(logits, layer):
    return logits.data_ptr() == layer.data_ptr() and logits.numel() == layer.numel()


def add_diagnostics(wrapped, instance, args, kwargs):
    state = criterion_state.of(instance)
    if state is None:  # built before the plugin was installed
        return wrapped(*args, **kwargs)
    last_layer = (args[0] if args else kwargs["raw_model_outs"])[0]["classification"][-1]
    main_calls = []

    def record(module, call_args, call_kwargs):
        logits = call_args[0] if call_args else call_kwargs["pred"]
        if not main_calls and _is_view_of(logits, last_layer):
            target = call_args[1] if len(call_args) > 1 else call_kwargs["target"]
            main_calls.append((logits.detach(), target))

    hook = instance.loss_cls.register_forward_pre_hook(record, with_kwargs=True)
    try:
        output = wrapped(*args, **kwargs)
    finally:
        hook.remove()
    if main_calls:
        from tao_sparse4d_fix.runtime import diagnostics  # torch: imported once TAO runs, never at start-up

        logits, target = main_calls[0]
        background = modes.background_rows(state.mode, criterion_state.contract().stock_background)
        output.update(diagnostics.scalars(logits, target, batch_size=last_layer.shape[0],
                                          score_threshold=state.score_threshold, background=background))
    return output


PATCH = MethodPatch(
    title="criterion adds background-score diagnostics",
    modules=("nvidia_tao_pytorch.cv.sparse4d.model.criterion",),
    qualname="SetCriterion.forward",
    known={
        "f524717db1c74641": "6.25.7.0.2-7.2.0",
        "eb37767b6da5eecd": "7.3.0",
    },
    wrapper=add_diagnostics,
    component="diagnostics",
)
