"""The three background-supervision modes, and where the active one came from."""
import os

FIELD = "background_supervision"
CONFIG_KEY = f"model.head.loss.cls.{FIELD}"

ORIGINAL = "original"
CORRECTED = "corrected"
UNMATCHED_ONLY = "unmatched_only"
MODES = (ORIGINAL, CORRECTED, UNMATCHED_ONLY)
DEFAULT = CORRECTED

DESCRIPTIONS = {
    ORIGINAL: "stock TAO loss: rows labelled outside [0, C) get no classification loss",
    CORRECTED: "every row is supervised; labels outside [0, C) are background for all classes",
    UNMATCHED_ONLY: "label C is background, negative labels ignored (TAO 7.3.0 behaviour)",
}


class InvalidMode(ValueError):
    """A spec or override asked for a mode that does not exist."""


def validate(value):
    """Return the canonical mode name for ``value`` or raise ``InvalidMode``."""
    mode = value.strip().lower() if isinstance(value, str) else value
    if mode not in MODES:
        raise InvalidMode(
            f"tao-sparse4d-fix: {CONFIG_KEY}={value!r} is not a valid value; "
            f"valid values are: {', '.join(MODES)}."
        )
    return mode


def from_cls_config(cls_config):
    """Resolve the mode from TAO's ``model.head.loss.cls`` node: (mode, source)."""
    value = None
    if cls_config is not None and hasattr(cls_config, "get"):
        value = cls_config.get(FIELD, None)
    if value is None:
        return DEFAULT, "default"
    return validate(value), _provenance()


def _provenance():
    """Tell a Hydra override from a spec entry from the schema default."""
    try:
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized():
            return "config"
        hydra_cfg = HydraConfig.get()
    except Exception:
        return "config"
    for override in hydra_cfg.overrides.task:
        if override.split("=", 1)[0].lstrip("+~") == CONFIG_KEY:
            return "override"
    return "spec" if _spec_sets_key(hydra_cfg) else "default"


def _spec_sets_key(hydra_cfg):
    from omegaconf import OmegaConf

    for source in hydra_cfg.runtime.config_sources:
        if source.provider != "main" or source.schema != "file":
            continue
        for suffix in (".yaml", ".yml", ""):
            path = os.path.join(source.path, hydra_cfg.job.config_name + suffix)
            if os.path.isfile(path):
                spec = OmegaConf.load(path)
                return OmegaConf.select(spec, CONFIG_KEY, default=None) is not None
    return False
