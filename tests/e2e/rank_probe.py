"""TEST-ONLY probe loaded in every interpreter of a run (harness sitecustomize,
``TAO_CPU_TESTONLY_PROBE=rank_probe``): each process appends what its own
criterion computed, so a DDP test can show every rank's behaviour, not just
rank 0's TensorBoard."""
import json
import os

import wrapt

OUT = os.environ.get("RANK_PROBE_DIR")


def _record(wrapped, instance, args, kwargs):
    output = wrapped(*args, **kwargs)
    import torch.distributed as dist

    rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else int(os.environ.get("LOCAL_RANK", 0))
    state = getattr(instance, "_tao_sparse4d_fix_state", None)  # criterion_state.ATTRIBUTE, read without importing the plugin
    row = {
        "rank": rank,
        "pid": os.getpid(),
        "world_size": dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1,
        "focal_loss_patched": hasattr(type(instance.loss_cls).forward, "__wrapped__"),
        "mode": state.mode if state else None,
        "loss_cls": {k: float(v) for k, v in output.items() if k.startswith("loss_cls")},
    }
    with open(os.path.join(OUT, f"rank{rank}.jsonl"), "a") as handle:
        handle.write(json.dumps(row) + "\n")
    return output


def _on_criterion(module):
    wrapt.wrap_function_wrapper(module, "SetCriterion.forward", _record)


if OUT:
    wrapt.register_post_import_hook(_on_criterion, "nvidia_tao_pytorch.cv.sparse4d.model.criterion")
