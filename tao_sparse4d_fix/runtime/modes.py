"""The three background-supervision modes, the rows each supervises, and where
the active one came from."""
from tao_sparse4d_fix.errors import PluginError

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

# The kinds of row outside [0, C) that reach TAO's classification loss. Rows
# labelled with a class are supervised in every mode.
UNMATCHED = "C"  # queries the Hungarian matcher left unmatched
NEGATIVE = "negative"  # -3 denoising negatives, -1 lost temporal tracks (and anything above C)
BACKGROUND_KINDS = (UNMATCHED, NEGATIVE)
KIND_LABELS = {UNMATCHED: "C", NEGATIVE: "-1, -3"}

# Which background kinds each mode supervises: the one definition of the rows.
BACKGROUND_ROWS = {
    CORRECTED: frozenset(BACKGROUND_KINDS),
    UNMATCHED_ONLY: frozenset({UNMATCHED}),
}


def background_rows(mode, stock_background):
    """The background kinds ``mode`` supervises; ``original`` does what TAO's code does."""
    return stock_background if mode == ORIGINAL else BACKGROUND_ROWS[mode]


def dropped_labels(background):
    """The labels a loss supervising ``background`` drops, as the status table names them."""
    dropped = [KIND_LABELS[kind] for kind in BACKGROUND_KINDS if kind not in background]
    return "{" + ", ".join(dropped) + "}"


class InvalidMode(PluginError, ValueError):
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


def from_spec(spec_path, overrides):
    """``(value or None, source)`` that a spec file plus Hydra overrides set.

    The one walk of a spec for the key: the doctor reads the value from it, a
    run reads only the source (its value comes from the composed config).
    """
    for override in reversed(list(overrides)):
        key, _, value = override.partition("=")
        if key.lstrip("+~") == CONFIG_KEY:
            return value, "override"
    if spec_path:
        from omegaconf import OmegaConf

        value = OmegaConf.select(OmegaConf.load(spec_path), CONFIG_KEY, default=None)
        if value is not None:
            return value, "spec"
    return None, "default"


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
        return from_spec(_spec_path(hydra_cfg), hydra_cfg.overrides.task)[1]
    except Exception:
        return "config"


def _spec_path(hydra_cfg):
    import os

    for source in hydra_cfg.runtime.config_sources:
        if source.provider != "main" or source.schema != "file":
            continue
        for suffix in (".yaml", ".yml", ""):
            path = os.path.join(source.path, hydra_cfg.job.config_name + suffix)
            if os.path.isfile(path):
                return path
    return None
