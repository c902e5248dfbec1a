"""BENCH-ONLY probe, loaded in every interpreter of an evidence training run
(harness sitecustomize, ``TAO_CPU_TESTONLY_PROBE=probe``, this folder on
PYTHONPATH). It never changes what TAO computes.

For every call of the criterion's classification loss it records the loss TAO
got and that call's constant-score floor, computed by the plugin's own
``runtime.floor`` (the formula's one home) for the rows the active mode
supervises, plus the label counts and ``avg_factor`` for reading. For the main-query calls it
also counts how many of the matched (positive) rows are temporal instances, the first
``num_temp_instances`` queries once the instance bank carried them from the previous frame
(``temporal_positives``; ``None`` when nothing was carried), against fresh queries
(``fresh_positives``): which kind the Hungarian matcher gives the objects. A torch
forward hook sees every call whatever wraps ``FocalLoss.forward``. Calls are
numbered within a training step: the main queries of each decoder layer first,
then the denoising rows of each layer, as TAO's ``SetCriterion.forward`` makes them.

    EVIDENCE_PROBE_OUT=DIR  ->  DIR/probe_<pid>.jsonl, one line per training step
"""
import json
import os

import wrapt

OUT = os.environ.get("EVIDENCE_PROBE_OUT")
_steps = {"count": 0}


def _on_loss(module, args, kwargs, output):
    from tao_sparse4d_fix.runtime import criterion_state, floor, modes

    pred, target = args[0], args[1] if len(args) > 1 else kwargs["target"]
    avg_factor = kwargs.get("avg_factor", args[3] if len(args) > 3 else None)
    state = criterion_state.of(module)
    mode = state.mode if state else modes.ORIGINAL  # the plugin off: TAO's stock loss
    background = modes.background_rows(mode, criterion_state.contract().stock_background)
    call_floor = floor.constant_score_floor(target, pred.shape[1], background=background, alpha=module.alpha,
                                            gamma=module.gamma, avg_factor=avg_factor, loss_weight=module.loss_weight)
    labels, counts = target.detach().cpu().unique(return_counts=True)
    carried, num_temp, num_anchor = module._evidence_bank
    kinds = {}
    if target.numel() % num_anchor == 0 and len(module._evidence_calls) < module._evidence_layers:  # main queries
        positive = ((target >= 0) & (target < pred.shape[1])).reshape(-1, num_anchor).detach().cpu()
        kinds = {"temporal_positives": int(positive[:, :num_temp].sum()) if carried else None,
                 "fresh_positives": int(positive[:, num_temp:].sum()) if carried else int(positive.sum())}
    module._evidence_calls.append({**kinds,
        "rows": int(target.numel()),
        "classes": int(pred.shape[1]),
        "labels": {str(int(label)): int(count) for label, count in zip(labels, counts)},
        "avg_factor": None if avg_factor is None else float(avg_factor),
        "mode": mode,
        "loss": float(output.detach()),
        "floor": float(call_floor),
    })


def _criterion_forward(wrapped, instance, args, kwargs):
    loss_cls = instance.loss_cls
    if not hasattr(loss_cls, "_evidence_calls"):
        loss_cls.register_forward_hook(_on_loss, with_kwargs=True)
    loss_cls._evidence_calls = []
    bank = instance.instance_bank
    carried = bank.mask is not None and bool(bank.mask.all())  # set by this step's InstanceBank.get
    loss_cls._evidence_bank = (carried, bank.num_temp_instances, bank.num_anchor)
    model_outs = (args[0] if args else kwargs["raw_model_outs"])[0]
    loss_cls._evidence_layers = len(model_outs["classification"])  # the first calls are the main queries
    output = wrapped(*args, **kwargs)
    with open(os.path.join(OUT, f"probe_{os.getpid()}.jsonl"), "a") as handle:  # validation is off: training steps only
        handle.write(json.dumps({"step": _steps["count"], "calls": loss_cls._evidence_calls}) + "\n")
    _steps["count"] += 1
    return output


def _on_criterion(module):
    wrapt.wrap_function_wrapper(module, "SetCriterion.forward", _criterion_forward)


if OUT:
    os.makedirs(OUT, exist_ok=True)
    wrapt.register_post_import_hook(_on_criterion, "nvidia_tao_pytorch.cv.sparse4d.model.criterion")
