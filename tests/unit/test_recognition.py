"""Stock code is recognised; unknown code is refused whole, loudly; undo works."""
import sys
import textwrap

import pytest

import tao_sparse4d_fix
from tao_sparse4d_fix.runtime import registry, status, versions
from tao_sparse4d_fix.runtime.patches import ALL, criterion_init, focal_loss_forward

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)


def test_every_target_of_this_tao_is_recognised(criterion, decoder_module, experiment_config):
    for patch in ALL:
        for name in patch.modules:
            if name in sys.modules:
                recognition = patch.recognise(sys.modules[name])
                assert recognition.known, (patch.target(name), recognition.detail)


def test_install_wraps_once_and_uninstall_restores(criterion):
    tao_sparse4d_fix.uninstall()
    stock_forward = criterion.FocalLoss.__dict__["forward"]
    tao_sparse4d_fix.install()
    tao_sparse4d_fix.install()
    wrapped = criterion.FocalLoss.__dict__["forward"]
    assert wrapped is not stock_forward
    assert wrapped.__wrapped__ is stock_forward  # one layer, not two
    tao_sparse4d_fix.uninstall()
    assert criterion.FocalLoss.__dict__["forward"] is stock_forward


def altered_forward(self, pred, target, weight=None, avg_factor=None):
    """FocalLoss.forward as a future TAO release might ship it."""
    return pred.sum() * 0.5


@pytest.fixture
def altered_focal_loss(criterion, monkeypatch):
    tao_sparse4d_fix.uninstall()
    monkeypatch.setattr(criterion.FocalLoss, "forward", altered_forward)
    yield altered_forward
    tao_sparse4d_fix.uninstall()


def test_unknown_code_is_refused_and_nothing_is_half_patched(criterion, altered_focal_loss):
    with pytest.raises(registry.UnsupportedTaoCode) as raised:
        registry.patch_module(criterion)
    message = str(raised.value)
    assert f"nvidia-tao-pytorch {versions.tao_version()}" in message
    assert "criterion.FocalLoss.forward" in message
    assert "f8ea3248ccad9d3c" in message  # what was expected
    assert "TAO_SPARSE4D_FIX_FORCE=1" in message
    # all or nothing: the criterion module carries none of its patches
    assert not criterion_init.PATCH.is_applied(criterion)
    assert not focal_loss_forward.PATCH.is_applied(criterion)
    assert criterion.FocalLoss.forward is altered_focal_loss


def test_force_patches_unknown_code_and_says_so(criterion, altered_focal_loss, monkeypatch):
    monkeypatch.setenv("TAO_SPARSE4D_FIX_FORCE", "1")
    registry.patch_module(criterion)
    assert focal_loss_forward.PATCH.is_applied(criterion)
    row = next(r for r in status.rows() if r.target.endswith("FocalLoss.forward"))
    assert row.applied and row.why.startswith("forced")


def test_import_of_unknown_code_fails_in_a_child(tmp_path):
    """A real import, as in training: the criterion import itself must fail."""
    import os
    import subprocess

    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent('''
        import wrapt

        def alter(criterion):  # registered first, so it runs before the plugin's hook
            criterion.FocalLoss.forward = lambda self, pred, target, weight=None, avg_factor=None: pred.sum()

        wrapt.register_post_import_hook(alter, "nvidia_tao_pytorch.cv.sparse4d.model.criterion")
        import nvidia_tao_pytorch.cv.sparse4d.model.criterion
        print("TRAINING WOULD START")
    '''))
    env = dict(os.environ, TAO_SPARSE4D_FIX="1")
    result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "TRAINING WOULD START" not in result.stdout
    assert "cannot patch nvidia_tao_pytorch.cv.sparse4d.model.criterion.FocalLoss.forward" in result.stderr
