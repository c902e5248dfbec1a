"""Fixtures for tests that run against the real TAO code from the registry.

The TAO release under test is selected by PYTHONPATH (see harness/testenv.py);
``TSF_TEST_TAO`` names the version the runner meant to put there,
and the session refuses to start if the interpreter sees another one.

Which tests run on every TAO release and which once (``tests/run.sh``; docs/development.md lists them).
Every test under tests/unit and tests/harness says where it belongs, by a marker on its module
(``pytestmark = pytest.mark.per_release``) or on the test itself (the closest marker wins):

* ``per_release``: it depends on the TAO release: it imports, patches or runs TAO's code (recognition,
  patch targets, schema fields, the loss on the release's criterion, alignment and continuity against
  the release's bank and target, a child process that imports TAO). Runs on every release of the matrix.
* ``once``: it tests the plugin's own logic (or the harness's) and never reaches TAO's code. Runs on the
  first release of the matrix only: ``tests/run.sh`` sets ``TSF_TEST_RELEASE_ONLY=1`` for the others,
  which deselects these tests (reported as deselected, never as passed or skipped).

A test with neither marker stops the collection, naming it: nothing is left out by omission.
When in doubt, ``per_release``.
"""
import importlib
import os

import pytest

import tao_sparse4d_fix
from tao_sparse4d_fix.runtime import criterion_state, versions

CRITERION = "nvidia_tao_pytorch.cv.sparse4d.model.criterion"
DECODER = "nvidia_tao_pytorch.cv.sparse4d.model.detection3d.decoder"


MATRIX_MARKS = ("per_release", "once")
CLASSIFIED_DIRS = ("unit", "harness")  # tests/<dir>: run.sh runs them in one session per release
RELEASE_ONLY = "TSF_TEST_RELEASE_ONLY"


def pytest_configure(config):
    config.addinivalue_line("markers", "per_release: depends on the TAO release: runs on every release (tests/unit/conftest.py)")
    config.addinivalue_line("markers", "once: the plugin's own logic, not TAO's code: runs on one release (tests/unit/conftest.py)")


def matrix_mark(item):
    """``per_release`` or ``once``: the test's closest marker of the two; None if it has neither."""
    for mark in item.iter_markers():  # the test's own markers first, then its class's, then its module's
        if mark.name in MATRIX_MARKS:
            return mark.name
    return None


def pytest_collection_modifyitems(config, items):
    classified = [item for item in items if item.path.parent.name in CLASSIFIED_DIRS
                  and item.path.parent.parent.name == "tests"]
    missing = sorted({item.nodeid.split("[")[0] for item in classified if matrix_mark(item) is None})
    if missing:
        raise pytest.UsageError(
            "these tests do not say whether they depend on the TAO release; mark each module "
            "(pytestmark = pytest.mark.per_release, or pytest.mark.once) or each test (tests/unit/conftest.py):\n  "
            + "\n  ".join(missing))
    if os.environ.get(RELEASE_ONLY, "") not in ("", "0"):
        once = [item for item in classified if matrix_mark(item) == "once"]
        if once:
            config.hook.pytest_deselected(items=once)
            dropped = set(map(id, once))
            items[:] = [item for item in items if id(item) not in dropped]


def pytest_sessionstart(session):
    expected = os.environ.get("TSF_TEST_TAO")
    found = versions.installed("nvidia-tao-pytorch")
    if expected and expected != found:
        raise pytest.UsageError(f"tests were asked to run on TAO {expected}, but this interpreter sees {found}")


def set_mode(loss, mode):
    """Give a FocalLoss built by hand the mode SetCriterion would hand it."""
    criterion_state.attach(criterion_state.CriterionState(mode), loss)
    return loss


def mode_of(obj):
    state = criterion_state.of(obj)
    return state.mode if state else None


def tao_version_tuple():
    return tuple(int(part) for part in versions.installed("nvidia-tao-pytorch").split("."))


def schema_module_name():
    """TAO moved its config schema into nvidia_tao_pytorch in 7.0."""
    if tao_version_tuple() >= (7,):
        return "nvidia_tao_pytorch.config.sparse4d"
    return "nvidia_tao_core.config.sparse4d"


@pytest.fixture
def criterion():
    return importlib.import_module(CRITERION)


@pytest.fixture
def decoder_module():
    return importlib.import_module(DECODER)


@pytest.fixture
def experiment_config():
    """TAO's own default ExperimentConfig, as the training script gets it."""
    return importlib.import_module(schema_module_name() + ".default_config").ExperimentConfig


@pytest.fixture
def patched():
    """The plugin installed in this interpreter for the duration of one test."""
    tao_sparse4d_fix.install()
    yield
    tao_sparse4d_fix.uninstall()


@pytest.fixture
def stock():
    """Stock TAO: the plugin's patches undone for the duration of one test."""
    tao_sparse4d_fix.uninstall()
    yield


@pytest.fixture
def focal_loss():
    """TAO's FocalLoss class with the plugin installed (undone after the test)."""
    tao_sparse4d_fix.install()
    try:
        yield importlib.import_module(CRITERION).FocalLoss
    finally:
        tao_sparse4d_fix.uninstall()


@pytest.fixture
def stock_focal_loss():
    """TAO's FocalLoss class with every plugin patch undone."""
    tao_sparse4d_fix.uninstall()
    module = importlib.import_module(CRITERION)
    assert not hasattr(module.FocalLoss.__dict__["forward"], "__wrapped__")
    yield module.FocalLoss
