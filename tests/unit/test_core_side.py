"""Core and side patches: a side patch that is switched off, finds unknown code or
fails at run time never blocks the core fix; a bad switch value is refused."""
import importlib
import os
import subprocess
import sys

import pytest
import torch

import tao_sparse4d_fix
from tao_sparse4d_fix.runtime import diagnostics, registry, run_log, status
from tao_sparse4d_fix import switches
from tao_sparse4d_fix.errors import PluginError
from tao_sparse4d_fix.runtime.patches import (COMPONENTS, criterion_forward_diagnostics, decoder_decode, focal_loss_forward,
                                              head_continuity, head_forward, instance_bank_ids, mapped_query_gt_indices,
                                              nan_guard, pl_model_init, schema_field, target_sample)
from tao_sparse4d_fix.runtime.patches._base import MethodPatch
from conftest import mode_of
from test_decoder import inputs
from test_nan_guard import criterion_call
from tao_sparse4d_fix.runtime.criterion_state import CriterionState

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)

SIDE = {"diagnostics": (criterion_forward_diagnostics.PATCH,), "nan_guard": (nan_guard.PATCH,),
        "decoder": (decoder_decode.PATCH,),
        "id_continuity": (schema_field.TRACK_ID_PATCH, head_continuity.PATCH, instance_bank_ids.PATCH),
        "temporal_align": (pl_model_init.PATCH, head_forward.PATCH, target_sample.PATCH, mapped_query_gt_indices.PATCH)}
VALID_NAMES = f"valid names are: {', '.join(COMPONENTS)}"  # the set itself is pinned below


def module_of(patch):
    """The TAO module that holds ``patch``'s target in this release (imported)."""
    for name in reversed(patch.modules):  # the newest layout first
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise AssertionError(f"none of {patch.modules} imports")


def row_of(patch):
    return next(row for row in status.rows() if row.order == list(registry.ALL).index(patch))


@pytest.fixture
def clean(criterion, decoder_module):
    tao_sparse4d_fix.uninstall()
    run_log._warned.clear()
    yield
    tao_sparse4d_fix.uninstall()


@pytest.mark.once
def test_component_names_are_the_side_patches():
    assert set(COMPONENTS) == set(SIDE) == {"decoder", "nan_guard", "diagnostics", "id_continuity", "temporal_align"}
    for name, patches in SIDE.items():
        assert all(patch.component == name and patch.role == "side" for patch in patches)
    assert focal_loss_forward.PATCH.role == "core"


@pytest.mark.parametrize("name", sorted(SIDE))
def test_disabled_component_is_not_applied_and_the_core_is(clean, criterion, name, monkeypatch):
    tao_sparse4d_fix.install()
    assert all(patch.is_applied(module_of(patch)) for patch in SIDE[name])
    monkeypatch.setenv(switches.DISABLE, name)
    tao_sparse4d_fix.install()  # installing again with the switch undoes it
    for patch in SIDE[name]:
        assert not patch.is_applied(module_of(patch))
        row = row_of(patch)
        assert (row.role, row.applied, row.why) == ("side", False, f"switched off ({switches.DISABLE}={name})")
    assert focal_loss_forward.PATCH.is_applied(criterion)
    for other, patches in SIDE.items():
        if other != name:
            assert all(patch.is_applied(module_of(patch)) for patch in patches)


def test_unknown_name_is_refused_with_the_valid_names(clean, criterion, monkeypatch):
    monkeypatch.setenv(switches.DISABLE, "decoder,nan-guard")
    with pytest.raises(switches.InvalidSwitch) as raised:
        tao_sparse4d_fix.install()  # the criterion is imported: its hook fires at once
    message = str(raised.value)
    assert "TAO_SPARSE4D_FIX_DISABLE='decoder,nan-guard'" in message and "'nan-guard'" in message
    assert VALID_NAMES in message
    assert not focal_loss_forward.PATCH.is_applied(criterion)


def test_unknown_name_stops_tao_import_in_a_child():
    env = dict(os.environ, TAO_SPARSE4D_FIX="1", TAO_SPARSE4D_FIX_DISABLE="decoders")
    result = subprocess.run([sys.executable, "-c", "import nvidia_tao_pytorch.cv.sparse4d.model.criterion; print('IMPORTED')"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "IMPORTED" not in result.stdout
    assert "'decoders'" in result.stderr and VALID_NAMES in result.stderr
    # an unrelated interpreter is not affected
    assert subprocess.run([sys.executable, "-c", "pass"], env=env).returncode == 0


def altered_gaussian_forward(self, pred, target, weight=None, avg_factor=None):
    """GaussianFocalLoss.forward as a future TAO release might ship it."""
    return (pred - target).abs().mean() * self.loss_weight


def test_unknown_side_target_is_skipped_with_one_warning_and_the_core_applies(clean, criterion, experiment_config,
                                                                              monkeypatch, capsys):
    monkeypatch.setattr(criterion.GaussianFocalLoss, "forward", altered_gaussian_forward)
    tao_sparse4d_fix.install()
    tao_sparse4d_fix.install()  # a second pass over the module warns no more
    assert criterion.GaussianFocalLoss.forward is altered_gaussian_forward
    row = row_of(nan_guard.PATCH)
    assert not row.applied and row.role == "side"
    assert row.why.startswith("unrecognised code (fingerprint ") and row.why.endswith("); skipped")
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "GaussianFocalLoss.forward" in warnings[0] and "core fix is unaffected" in warnings[0]
    assert focal_loss_forward.PATCH.is_applied(criterion)
    losses, _, _ = criterion_call(criterion, experiment_config, 0.5)
    assert mode_of(criterion.FocalLoss) is None  # the state is on instances only
    assert diagnostics.KEYS[0] in losses  # the other side patches still run


def test_table_shows_role_and_skipped_rows(clean, criterion, monkeypatch):
    monkeypatch.setattr(criterion.GaussianFocalLoss, "forward", altered_gaussian_forward)
    monkeypatch.setenv(switches.DISABLE, "decoder")
    tao_sparse4d_fix.install()
    lines = run_log.render(status.rows(), CriterionState("corrected", "default")).splitlines()
    assert [cell.strip() for cell in lines[2].split("|")[1:-1]] == ["Target", "Role", "Applied", "Why"]
    cells = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in lines[4:-2]}
    yawness = cells["nvidia_tao_pytorch.cv.sparse4d.model.criterion.GaussianFocalLoss.forward"]
    assert yawness[:2] == ["side", "No"] and yawness[2].startswith("unrecognised code (fingerprint ")
    assert yawness[2].endswith("); skipped")
    assert cells["nvidia_tao_pytorch.cv.sparse4d.model.criterion.FocalLoss.forward"][:2] == ["core", "Yes"]
    decoder = cells["nvidia_tao_pytorch.cv.sparse4d.model.detection3d.decoder.SparseBox3DDecoder.decode"]
    assert decoder == ["side", "No", "switched off (TAO_SPARSE4D_FIX_DISABLE=decoder)"]


def test_side_patch_failing_at_run_time_falls_back_to_stock_and_warns_once(clean, decoder_module, monkeypatch,
                                                                           capsys):
    kwargs = inputs(0, True, True)
    decoder = decoder_module.SparseBox3DDecoder(num_output=30)
    stock = decoder.decode(**kwargs)
    tao_sparse4d_fix.install()

    def broken(*args, **kwargs):
        raise RuntimeError("plugin bug")

    monkeypatch.setattr(decoder_decode.inspect, "signature", broken)
    for _ in range(3):
        patched = decoder.decode(**kwargs)
        assert all(torch.equal(s[key], p[key]) for s, p in zip(stock, patched) for key in s)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert "SparseBox3DDecoder.decode (side patch) failed: RuntimeError('plugin bug')" in warnings[0]


def test_diagnostics_failing_after_the_stock_call_keep_its_output(clean, criterion, experiment_config, monkeypatch):
    stock, _, _ = criterion_call(criterion, experiment_config, 0.5)
    tao_sparse4d_fix.install()
    expected, _, _ = criterion_call(criterion, experiment_config, 0.5)
    monkeypatch.setattr(diagnostics, "scalars", lambda *a, **k: 1 / 0)
    losses, _, _ = criterion_call(criterion, experiment_config, 0.5)
    assert losses.keys() == stock.keys()  # the stock output, without the scalars
    for key in losses:
        assert torch.equal(losses[key], expected[key]), key  # and still the fixed loss


def test_tao_errors_inside_a_side_patch_pass_through_unchanged(clean, decoder_module, capsys):
    tao_sparse4d_fix.install()
    decoder = decoder_module.SparseBox3DDecoder(num_output=10_000)
    kwargs = inputs(0, False, False)
    with pytest.raises(TypeError):
        decoder.decode(**dict(kwargs, box_preds=[None] * len(kwargs["box_preds"])))  # fails in TAO's code
    assert "warning" not in capsys.readouterr().err
    assert len(decoder.decode(**kwargs)[0]["scores_3d"]) == 40 * 4  # the patch still clamps topk


def test_side_target_without_source_is_skipped_not_a_crash(clean, criterion, monkeypatch):
    """A target whose source cannot be read (say, shipped as .pyc only) is unrecognised, not an error."""
    function = eval("lambda self, pred, target, weight=None, avg_factor=None: pred.mean()")
    monkeypatch.setattr(criterion.GaussianFocalLoss, "forward", function)
    tao_sparse4d_fix.install()
    row = row_of(nan_guard.PATCH)
    assert not row.applied and row.why.startswith("code that could not be inspected (OSError(")
    assert focal_loss_forward.PATCH.is_applied(criterion)


class Refused(PluginError, ValueError):
    """A refusal a side patch makes on purpose (as temporal_align refuses a contradictory spec)."""


def test_a_side_patch_refusal_stops_the_call_and_is_not_a_fallback(clean, decoder_module, capsys):
    def refuse(wrapped, instance, args, kwargs):
        raise Refused("tao-sparse4d-fix: refused on purpose")

    patch = MethodPatch(title="refuses", modules=decoder_decode.PATCH.modules, qualname=decoder_decode.PATCH.qualname,
                        known=decoder_decode.PATCH.known, wrapper=refuse, component="decoder")
    patch.apply(decoder_module)
    try:
        decoder = decoder_module.SparseBox3DDecoder(num_output=30)
        for _ in range(2):  # refused every time: the patch did not give up and fall back to stock
            with pytest.raises(Refused, match="refused on purpose"):
                decoder.decode(**inputs(0, True, True))
    finally:
        patch.revert(decoder_module)
    assert "warning" not in capsys.readouterr().err
