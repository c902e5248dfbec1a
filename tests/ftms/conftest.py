"""Fixtures for the FTMS tests (helpers in ftmsjobs.py, FTMS's jobs in ftms_driver.py, shared in tests/hostfixtures.py)."""
import json

import pytest

from harness import testenv
from ftmsjobs import BACKENDS, FtmsService, Host

from tests.hostfixtures import host_fixture, host_python  # noqa: F401 (a fixture)

host = host_fixture(Host)


@pytest.fixture(scope="session")
def ftms_python():
    return testenv.ensure_ftms()


@pytest.fixture(scope="session")
def derived(host_python, tmp_path_factory):
    """The image ``tao-sparse4d-fix ftms --json`` names, the one the service is started with."""
    home = tmp_path_factory.mktemp("ftms-home")
    result = Host(host_python, home).cli("ftms", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["IMAGE_TAO_PYTORCH"]


@pytest.fixture(params=[(v, b) for v in testenv.FTMS_CORE for b in BACKENDS],
                ids=lambda p: f"nvidia-tao-core-{p[0]}-{p[1]}")
def service(request, ftms_python, derived, tmp_path):
    version, backend = request.param
    return FtmsService(ftms_python, version, backend, derived, tmp_path / "service")


@pytest.fixture(params=testenv.FTMS_CORE, ids=lambda v: f"nvidia-tao-core-{v}")
def api(request, ftms_python, derived, tmp_path):
    """FTMS's REST API code of one release (no backend: only its request schemas are used)."""
    return FtmsService(ftms_python, request.param, None, derived, tmp_path / "api")
