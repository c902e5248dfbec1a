"""BENCH-ONLY probe, loaded in every interpreter of an evidence training run
(harness sitecustomize, ``TAO_CPU_TESTONLY_PROBE=evidence_probe``, this folder on
PYTHONPATH). It never changes what TAO computes.

For every call of the criterion's classification loss it records what the
constant-score floor of that call needs (bench/evidence_floor.py): how many rows
carry each label, the ``avg_factor``, the loss's alpha, gamma and weight, and the
loss value TAO got. A torch forward hook sees every call whatever wraps
``FocalLoss.forward`` (the plugin does not call the stock code in its modes).
Calls are numbered within a training step: the main queries of each decoder layer
first, then the denoising rows of each layer, as TAO's ``SetCriterion.forward``
makes them.

    EVIDENCE_PROBE_OUT=DIR  ->  DIR/probe_<pid>.jsonl, one line per training step
"""
import json
import os

import wrapt

OUT = os.environ.get("EVIDENCE_PROBE_OUT")
_steps = {"count": 0}


def _on_loss(module, args, kwargs, output):
    pred, target = args[0], args[1] if len(args) > 1 else kwargs["target"]
    avg_factor = kwargs.get("avg_factor", args[3] if len(args) > 3 else None)
    labels, counts = target.detach().cpu().unique(return_counts=True)
    module._evidence_calls.append({
        "rows": int(target.numel()),
        "classes": int(pred.shape[1]),
        "labels": {str(int(label)): int(count) for label, count in zip(labels, counts)},
        "avg_factor": None if avg_factor is None else float(avg_factor),
        "alpha": float(module.alpha),
        "gamma": float(module.gamma),
        "loss_weight": float(module.loss_weight),
        "loss": float(output.detach()),
    })


def _criterion_forward(wrapped, instance, args, kwargs):
    loss_cls = instance.loss_cls
    if not hasattr(loss_cls, "_evidence_calls"):
        loss_cls.register_forward_hook(_on_loss, with_kwargs=True)
    loss_cls._evidence_calls = []
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
