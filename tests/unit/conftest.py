"""Fixtures for tests that run against the real TAO code from the registry.

The TAO release under test is selected by PYTHONPATH (see harness/testenv.py);
``TSF_TEST_TAO`` names the version the runner meant to put there,
and the session refuses to start if the interpreter sees another one.
"""
import importlib
import os

import pytest

import tao_sparse4d_fix
from tao_sparse4d_fix.runtime import criterion_state, versions

CRITERION = "nvidia_tao_pytorch.cv.sparse4d.model.criterion"
DECODER = "nvidia_tao_pytorch.cv.sparse4d.model.detection3d.decoder"


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
