"""TEST-ONLY stand-ins for the modules TAO imports but that cannot be installed here.

* ``eff``: NVIDIA's obfuscated archive/encryption package (no wheel loads on
  Python 3.11/3.12). ``nvidia_tao_pytorch.core`` imports it at module level;
  training never calls it unless a checkpoint is encrypted.
* ``spatialai_data_utils``: not on the registry. The Sparse4D dataset imports
  it at module level; only ``FPS``, ``COLOR_MAP`` and the two eval configs'
  ``deserialize`` run during training (harness runs skip validation).
  ``sparse4d evaluate`` reaches ``AIC24DetEval``/``AIC24TrackEval``: the
  stand-ins below record what TAO hands them and write constant placeholder
  metrics, not real ones. ``sparse4d inference`` writing
  ``results_nusc.json`` (``_format_bbox``) also needs ``AICityBox`` and the
  eval config's ``class_range``: both are given below (the nvschema converter
  is not: run inference with ``inference.output_nvschema=false``).

Every other imported name is a placeholder that raises when used, so a code
path that really needs the package fails loudly instead of silently.
"""


def _unavailable(qualname):
    def fail(*args, **kwargs):
        raise NotImplementedError(f"{qualname} is a test-only stand-in (tao_cpu_testonly); the real package is not installed")

    return type(qualname.rsplit(".", 1)[-1], (), {"__new__": fail, "__call__": fail, "__doc__": "test-only placeholder"})


class _EvalConfig:
    """Keeps the dict it was deserialised from; its keys read as attributes (``class_range``)."""

    def __init__(self, cfg):
        self.cfg = dict(cfg)

    def __getattr__(self, name):
        cfg = self.__dict__.get("cfg", {})
        if name in cfg:
            return cfg[name]
        raise AttributeError(name)

    @classmethod
    def deserialize(cls, cfg):
        return cls(cfg)


class Expression:
    """eff's metadata condition; cookbooks build instances at class-definition time."""

    def __init__(self, *args):
        self.args = args


class DetectionConfig(_EvalConfig):
    pass


class TrackingConfig(_EvalConfig):
    pass


class AICityBox:
    """A nuScenes-devkit-style box with what Sparse4D's ``_format_bbox`` reads.

    center, wlh, velocity: float arrays; orientation: the Quaternion given;
    label, token as given; score as a Python float (json.dump, which TAO calls on
    the result, cannot write numpy's float32: an assumption about the real class).
    """

    def __init__(self, center, size, orientation, label=None, score=float("nan"),
                 velocity=(float("nan"),) * 3, name=None, token=None):
        import numpy as np

        self.center = np.asarray(center, dtype=float)
        self.wlh = np.asarray(size, dtype=float)
        self.orientation = orientation
        self.label = None if label is None else int(label)
        self.score = float(score)
        self.velocity = np.asarray(velocity, dtype=float)
        self.name = name
        self.token = token
        self.embed = None
        self.reid_embed = None
        self.visibility_scores = None


class _RecordingEval:
    """Records the results TAO hands the evaluator, then writes placeholder metrics.

    TAO (``dataset._evaluate_single``) builds it with the dataset's ``data_infos``,
    the eval config, ``result_path`` (the results_nusc.json it just wrote) and
    ``output_dir``, calls ``main()``, then reads ``output_dir/metrics_summary.json``.
    With TAO_CPU_TESTONLY_METRICS_RECORD set, ``main()`` appends one JSON line there:
    the evaluator, the path, the results file's content, the frames' tokens and the
    config. The metrics are constants in the real summary's shape (no AP is computed).
    """

    def __init__(self, data_infos, config=None, result_path=None, output_dir=None, verbose=True):
        self.tokens = [info["token"] for info in data_infos]
        self.config, self.result_path, self.output_dir = config, result_path, output_dir

    def _record(self):
        import json
        import os

        out = os.environ.get("TAO_CPU_TESTONLY_METRICS_RECORD")
        if out:
            with open(self.result_path) as f:
                results = json.load(f)
            row = {"evaluator": type(self).__name__, "result_path": str(self.result_path), "results": results,
                   "sample_tokens": self.tokens, "config": dict(getattr(self.config, "cfg", {}))}
            with open(out, "a") as f:
                f.write(json.dumps(row) + "\n")

    def _write_summary(self, summary):
        import json
        import os

        with open(os.path.join(self.output_dir, "metrics_summary.json"), "w") as f:
            json.dump(summary, f)
        return summary


class AIC24DetEval(_RecordingEval):
    def main(self, render_curves=False):
        self._record()
        classes = list(self.config.class_range)
        errors = {"trans_err": 1.0, "scale_err": 1.0, "orient_err": 1.0, "vel_err": 1.0, "attr_err": 1.0}
        return self._write_summary({
            "label_aps": {name: {str(d): 0.0 for d in self.config.dist_ths} for name in classes},
            "label_tp_errors": {name: dict(errors) for name in classes},
            "tp_errors": errors, "mean_ap": 0.0, "nd_score": 0.0,
        })


class AIC24TrackEval(_RecordingEval):
    def main(self, render_curves=False):
        self._record()
        names = list(self.config.tracking_names)
        worst = dict(self.config.metric_worst)
        return self._write_summary({"label_metrics": {key: {name: value for name in names} for key, value in worst.items()},
                                    **worst})


# Color table for visualisation only; any RGB tuples will do.
COLOR_MAP = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180)]

# module name -> {attribute: value}; a value of None becomes a placeholder that raises.
MODULES = {
    "eff": {},
    "eff.core": {"Archive": None},
    "eff.core.archive": {"Archive": None},
    "eff.core.codec": {"encrypt_stream": None, "decrypt_stream": None},
    "eff.codec": {"encrypt_stream": None, "decrypt_stream": None, "get_random_encryption": None},
    "eff.callbacks": {"BinaryContentCallback": None, "StringContentCallback": None},
    "eff.utils": {},
    "eff.utils.object_class": {"generate_obj_cls": None},
    "eff.validator": {},
    "eff.validator.conditions": {"Expression": Expression},
    "eff.validator.validator": {"validate_metadata": None},
    "spatialai_data_utils": {},
    "spatialai_data_utils.constants": {"FPS": 30},
    "spatialai_data_utils.eval": {},
    "spatialai_data_utils.eval.detection": {},
    "spatialai_data_utils.eval.detection.data_classes": {"DetectionConfig": DetectionConfig},
    "spatialai_data_utils.eval.detection.evaluate": {"AIC24DetEval": AIC24DetEval},
    "spatialai_data_utils.eval.tracking": {},
    "spatialai_data_utils.eval.tracking.data_classes": {"TrackingConfig": TrackingConfig},
    "spatialai_data_utils.eval.tracking.evaluate": {"AIC24TrackEval": AIC24TrackEval},
    "spatialai_data_utils.visualization": {"COLOR_MAP": COLOR_MAP},
    "spatialai_data_utils.utils": {},
    "spatialai_data_utils.utils.data_classes": {"AICityBox": AICityBox},  # 6.x
    "spatialai_data_utils.core": {},
    "spatialai_data_utils.core.boxes": {},
    "spatialai_data_utils.core.boxes.aicity_box": {"AICityBox": AICityBox},  # 7.x
    "spatialai_data_utils.converters": {},
    "spatialai_data_utils.converters.nusc_results_to_nvschema": {"convert_sparse4d_to_nvschema": None},
}


def populate(module):
    """Fill a freshly created stand-in module with its names."""
    module.__doc__ = f"test-only stand-in for {module.__name__} (tao_cpu_testonly)"
    for name, value in MODULES[module.__name__].items():
        setattr(module, name, _unavailable(f"{module.__name__}.{name}") if value is None else value)
