"""TEST-ONLY hooks that let stock TAO Sparse4D import and train on a CPU machine.

Installed in every interpreter of a harness run by ``harness/site/sitecustomize.py``.
Nothing here is part of the plugin; each hook stands in for something that
only exists in TAO's GPU container:

* the compiled ``deformable_aggregation_ext`` -> ``deformable_aggregation_cpu``;
* the uninstallable ``eff`` and ``spatialai_data_utils`` -> ``standins``;
* torchvision's CUDA build needs the ``torchvision::nms``/``qnms`` schemas before import;
* ``core/initialize_experiments.py`` hard-codes ``accelerator='gpu'`` and a GPU id
  list -> the Lightning Trainer is turned onto the CPU (``devices`` becomes the
  number of ids, so ``train.num_gpus: 2`` is a 2-process DDP run over gloo) and
  logs every step (TAO passes ``log_every_n_steps=50``; override with
  TAO_CPU_TESTONLY_LOG_EVERY_N_STEPS); TAO_CPU_TESTONLY_NO_CHECKPOINT=1 makes
  ``Trainer.save_checkpoint`` a no-op (each Sparse4D checkpoint is ~0.9 GB);
* ``GroupInBatchSampler._sync_random_seed`` broadcasts a CUDA tensor when
  world_size > 1 -> the same broadcast on a CPU tensor;
* TAO's multi-node entrypoint (``WORLD_SIZE`` nodes, ``NUM_GPU_PER_NODE``, ...)
  checks ``NUM_GPU_PER_NODE <= torch.cuda.device_count()`` in
  ``core.distributed.validator.validate_configs`` and otherwise falls back to
  one node -> while that check runs, the CPU machine counts as having
  ``NUM_GPU_PER_NODE`` devices (each is a CPU process here);
* ``sparse4d export`` calls ``torch.cuda.set_device`` and builds its dummy inputs
  and exporter on ``"cuda"`` even with ``export.on_cpu`` -> in the process that
  imports TAO's ``onnx_export``, ``set_device`` is a no-op and, while
  ``Sparse4DExporter.export_model`` runs, every CUDA device TAO names is the CPU;
  its ``torch.onnx.export`` call gets ``dynamo=False`` unless it says otherwise:
  TAO's exporter is written for the TorchScript exporter (``NoJitTrace``,
  ``symbolic``), the default of torch before 2.9, while this venv has 2.13.
"""
import importlib.abc
import importlib.util
import os
import sys

from tao_cpu_testonly import standins

_DA_EXT_SUFFIX = ".deformable_aggregation_ext"


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the stand-in modules, and defines the nms schema before torchvision loads."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.endswith(_DA_EXT_SUFFIX) and "sparse4d" in fullname:
            return importlib.util.spec_from_loader(fullname, self)
        if fullname in standins.MODULES:
            return importlib.util.spec_from_loader(fullname, self, is_package=True)
        if fullname == "torchvision":
            _define_torchvision_nms_schema()
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        if module.__name__.endswith(_DA_EXT_SUFFIX):
            from tao_cpu_testonly import deformable_aggregation_cpu as impl

            module.__doc__ = impl.__doc__
            module.deformable_aggregation_forward = impl.deformable_aggregation_forward
            module.deformable_aggregation_backward = impl.deformable_aggregation_backward
        else:
            standins.populate(module)


def _define_torchvision_nms_schema():
    """torchvision's _meta_registrations registers fake kernels for torchvision::nms
    (and ::qnms in 0.28); with its CUDA-built _C unloadable those ops do not exist
    and the import fails."""
    import torch

    for op in ("nms", "qnms"):
        try:
            torch.library.define(f"torchvision::{op}", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        except RuntimeError:
            pass  # already defined (real _C loaded, or defined earlier)


def _cpu_trainer_init(wrapped, instance, args, kwargs):
    if kwargs.get("accelerator") in ("gpu", "cuda", "auto", None):
        kwargs["accelerator"] = "cpu"
    devices = kwargs.get("devices")
    if isinstance(devices, (list, tuple)):
        kwargs["devices"] = len(devices)
    kwargs["log_every_n_steps"] = int(os.environ.get("TAO_CPU_TESTONLY_LOG_EVERY_N_STEPS", "1"))
    return wrapped(*args, **kwargs)


def _skip_checkpoint(wrapped, instance, args, kwargs):
    if os.environ.get("TAO_CPU_TESTONLY_NO_CHECKPOINT") == "1":
        return None
    return wrapped(*args, **kwargs)


def _patch_trainer(module):
    import wrapt

    wrapt.wrap_function_wrapper(module, "Trainer.__init__", _cpu_trainer_init)
    wrapt.wrap_function_wrapper(module, "Trainer.save_checkpoint", _skip_checkpoint)


def _sync_random_seed_cpu(self, seed=None):
    import numpy as np
    import torch
    import torch.distributed as dist

    if seed is None:
        seed = np.random.randint(2**31)
    if self.world_size > 1 and dist.is_available() and dist.is_initialized():
        value = torch.tensor(seed if self.rank == 0 else 0, dtype=torch.int32)
        dist.broadcast(value, src=0)
        return value.item()
    return seed


def _validate_with_cpu_devices(wrapped, instance, args, kwargs):
    import torch

    real = torch.cuda.device_count
    torch.cuda.device_count = lambda: int(os.environ.get("NUM_GPU_PER_NODE") or 1)
    try:
        return wrapped(*args, **kwargs)
    finally:
        torch.cuda.device_count = real


def _patch_validator(module):
    import wrapt

    wrapt.wrap_function_wrapper(module, "validate_configs", _validate_with_cpu_devices)


def _is_cuda(device):
    import torch

    return (isinstance(device, str) and device.startswith("cuda")) or (
        isinstance(device, torch.device) and device.type == "cuda")


def _cuda_as_cpu_mode():
    """A TorchFunctionMode that turns every CUDA device argument into the CPU."""
    import torch
    from torch.overrides import TorchFunctionMode

    class CudaAsCpu(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = dict(kwargs or {})
            if func is torch.Tensor.cuda:
                return args[0]
            if _is_cuda(kwargs.get("device")):
                kwargs["device"] = "cpu"
            args = tuple("cpu" if _is_cuda(a) else a for a in args)
            return func(*args, **kwargs)

    return CudaAsCpu()


def _export_model_on_cpu(wrapped, instance, args, kwargs):
    import torch

    module_cuda = torch.nn.Module.cuda
    torch.nn.Module.cuda = lambda self, device=None: self
    try:
        with _cuda_as_cpu_mode():
            return wrapped(*args, **kwargs)
    finally:
        torch.nn.Module.cuda = module_cuda


def _torchscript_onnx_export(wrapped, instance, args, kwargs):
    kwargs.setdefault("dynamo", False)
    return wrapped(*args, **kwargs)


def _patch_onnx_export(module):
    import torch
    import wrapt

    torch.cuda.set_device = lambda device: None
    wrapt.wrap_function_wrapper(module, "Sparse4DExporter.export_model", _export_model_on_cpu)
    wrapt.wrap_function_wrapper(module.torch.onnx, "export", _torchscript_onnx_export)


def _patch_sampler(module):
    module.GroupInBatchSampler._sync_random_seed = _sync_random_seed_cpu


def install():
    """Install the finder and the post-import hooks (idempotent)."""
    if any(isinstance(f, _StandInFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _StandInFinder())
    os.environ.setdefault("TAO_VISIBLE_DEVICES", "0")  # set by TAO's launcher; needed when scripts run directly
    import wrapt

    wrapt.register_post_import_hook(_patch_trainer, "pytorch_lightning.trainer.trainer")
    wrapt.register_post_import_hook(_patch_sampler, "nvidia_tao_pytorch.cv.sparse4d.dataloader.sampler")
    wrapt.register_post_import_hook(_patch_validator, "nvidia_tao_pytorch.core.distributed.validator")
    wrapt.register_post_import_hook(_patch_onnx_export, "nvidia_tao_pytorch.cv.sparse4d.utils.onnx_export")
