"""Every TAO release the plugin knows, in one table, and which TAO this interpreter sees.

``RELEASES`` is the one home of what the plugin knows about each release: where its
config schema lives and the fingerprint of each patch target's stock code. The
patches' known fingerprints, the status table's "stock code of TAO ..." ranges,
the README's release table and the doctor's release line are all derived from it
(``tests/unit/test_docs_agree.py`` checks the README against it).
Standard library only: the doctor and the status table import it.
"""
from dataclasses import dataclass
from importlib import metadata
from typing import Mapping, Optional

from tao_sparse4d_fix.runtime import modes

TAO_DISTRIBUTIONS = ("nvidia-tao-pytorch", "nvidia-tao-core")
PYTORCH = TAO_DISTRIBUTIONS[0]

SCHEMA_IN_CORE = "nvidia_tao_core.config.sparse4d.model"  # TAO <= 6.26
SCHEMA_IN_PYTORCH = "nvidia_tao_pytorch.config.sparse4d.model"  # TAO >= 7.0


@dataclass(frozen=True, eq=False)  # one object per generation: compared and hashed by identity
class StockCode:
    """One generation of TAO's Sparse4D code: each patch target's fingerprint, and what its loss does."""

    fingerprints: Mapping[str, str]  # patch target (qualname) -> fingerprint of its stock code
    schema_fields: Mapping[str, tuple]  # schema dataclass a key is added to -> its own fields
    loss: str  # what its FocalLoss.forward does with labels outside [0, C), as the README writes it
    loss_supervises: frozenset  # the modes.BACKGROUND_KINDS its FocalLoss supervises

    def loss_text(self):
        """``loss`` as the status table writes it (no Markdown)."""
        return self.loss.replace("`", "")


_LOSS_CLS_FIELDS = ("type", "use_sigmoid", "gamma", "alpha", "loss_weight")
_BANK_FIELDS = ("num_anchor", "anchor", "num_temp_instances", "confidence_decay", "feat_grad",
                "default_time_interval", "embed_dims", "use_temporal_align")
CODE_6_25 = StockCode(
    {
        "FocalLoss.forward": "f8ea3248ccad9d3c",
        "SetCriterion.__init__": "2408ce20a7dc108b",
        "SetCriterion.forward": "f524717db1c74641",
        "GaussianFocalLoss.forward": "407733a83ed6749f",
        "SparseBox3DDecoder.decode": "d6ac5aa93321db04",
        "InstanceBank.get_instance_id": "31528c49e86cc13c",
        "Sparse4DHead.__init__": "d58fc3099a83a955",
        "Sparse4DPlModel.__init__": "ff16212826ef76b8",
        "Sparse4DHead.forward": "e11f806cb645f913",
        "SparseBox3DTarget._get_mapped_query_gt_indices": "514b5e8fa536d2ab",
        "SparseBox3DTarget.sample": "28f41d1553dd2001",
    },
    schema_fields={
        "Sparse4DLossClsConfig": _LOSS_CLS_FIELDS,
        "Sparse4DInstanceBankConfig": _BANK_FIELDS + ("grid_size",),
    },
    loss="drops every row outside `[0, C)`",
    loss_supervises=frozenset(),
)
CODE_7_3 = StockCode(
    {
        "FocalLoss.forward": "03943e4edef6a027",
        "SetCriterion.__init__": "20ba2f97f9ae0a12",
        "SetCriterion.forward": "eb37767b6da5eecd",
        "GaussianFocalLoss.forward": "407733a83ed6749f",
        "SparseBox3DDecoder.decode": "d6ac5aa93321db04",
        "InstanceBank.get_instance_id": "31528c49e86cc13c",
        "Sparse4DHead.__init__": "68bdcb3b57e8b906",
        "Sparse4DPlModel.__init__": "92b7bb53810b3bc2",
        "Sparse4DHead.forward": "139f3f0cf1415e30",
        "SparseBox3DTarget._get_mapped_query_gt_indices": "514b5e8fa536d2ab",
        "SparseBox3DTarget.sample": "28f41d1553dd2001",
    },
    schema_fields={
        "Sparse4DLossClsConfig": _LOSS_CLS_FIELDS,
        "Sparse4DInstanceBankConfig": _BANK_FIELDS + ("reset_on_time_gap", "grid_size"),
    },
    loss="supervises `C`, drops negative labels",
    loss_supervises=frozenset({modes.UNMATCHED}),
)


@dataclass(frozen=True)
class Release:
    tao: str  # the nvidia-tao-pytorch version
    schema_module: str  # where the schema dataclasses the keys are added to live
    code: StockCode


# Every release that ships Sparse4D, oldest first (5.1.0 and 6.0.0 ship none).
RELEASES = (
    Release("6.25.7.0.2", SCHEMA_IN_CORE, CODE_6_25),
    Release("6.25.9", SCHEMA_IN_CORE, CODE_6_25),
    Release("6.25.10", SCHEMA_IN_CORE, CODE_6_25),
    Release("6.25.11", SCHEMA_IN_CORE, CODE_6_25),
    Release("6.26.3", SCHEMA_IN_CORE, CODE_6_25),
    Release("7.0.0", SCHEMA_IN_PYTORCH, CODE_6_25),
    Release("7.0.1", SCHEMA_IN_PYTORCH, CODE_6_25),
    Release("7.1.0", SCHEMA_IN_PYTORCH, CODE_6_25),
    Release("7.2.0", SCHEMA_IN_PYTORCH, CODE_6_25),
    Release("7.3.0", SCHEMA_IN_PYTORCH, CODE_7_3),
)


def span(releases):
    """``first-last`` of consecutive releases, or the one release, as messages name them."""
    first, last = releases[0].tao, releases[-1].tao
    return first if first == last else f"{first}-{last}"


def _grouped(key):
    """Releases grouped by ``key(release)``, in order of first appearance."""
    groups = {}
    for release in RELEASES:
        groups.setdefault(key(release), []).append(release)
    return groups


def known_code(qualname):
    """{fingerprint: the releases that ship it} for one patch target."""
    return {fingerprint: span(releases)
            for fingerprint, releases in _grouped(lambda r: r.code.fingerprints[qualname]).items()}


def known_schema(dataclass_name):
    """{the fields of one schema dataclass: the releases that ship them}."""
    return {fields: span(releases)
            for fields, releases in _grouped(lambda r: r.code.schema_fields[dataclass_name]).items()}


def schema_modules():
    """Where the schema lives, oldest first."""
    return tuple(_grouped(lambda r: r.schema_module))


def all_releases():
    return span(RELEASES)


def stock_code(fingerprint, qualname="FocalLoss.forward"):
    """The ``StockCode`` whose ``qualname`` has ``fingerprint``, or None."""
    return next((r.code for r in RELEASES if r.code.fingerprints[qualname] == fingerprint), None)


def release(tao):
    """The ``Release`` of version ``tao``, or None for one the table does not hold."""
    return next((r for r in RELEASES if r.tao == tao), None)


def markdown_table():
    """The README's release table: rows of releases that share a schema home and code."""
    lines = ["| nvidia-tao-pytorch | its `FocalLoss.forward` (fingerprint) | the spec key is added to |",
             "|---|---|---|"]
    for (module, code), releases in _grouped(lambda r: (r.schema_module, r.code)).items():
        loss = f"{code.loss} (`{code.fingerprints['FocalLoss.forward']}`)"
        lines.append(f"| {', '.join(r.tao for r in releases)} | {loss} | `{module}` |")
    return "\n".join(lines)


def support_line(tao: Optional[str] = None):
    """One line on the installed (or given) nvidia-tao-pytorch against the table, for the doctor."""
    tao = tao or installed(PYTORCH)
    if tao is None:
        return f"{PYTORCH} is not installed: nothing to patch here"
    known = release(tao)
    if known is None:
        return (f"{PYTORCH} {tao} is not in the plugin's release table ({', '.join(r.tao for r in RELEASES)}): "
                "each target is recognised by its code, or the run is refused")
    return f"{PYTORCH} {tao} is a known release: its FocalLoss {known.code.loss_text()}; schema in {known.schema_module}"


def installed(distribution):
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def tao_version():
    """The nvidia-tao-pytorch version, as error messages and reports name it."""
    return installed(PYTORCH) or "unknown (nvidia-tao-pytorch not found)"
