"""Fixtures for the TAO SDK tests (helpers in sdkjobs.py, the SDK jobs in sdk_driver.py)."""
import pytest

from sdkjobs import SdkHost, ensure_host_python


@pytest.fixture(scope="session")
def host_python():
    return ensure_host_python()


@pytest.fixture
def host(host_python, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return SdkHost(host_python, home)


@pytest.fixture(scope="session")
def bundle(host_python, tmp_path_factory):
    """A real bundle, built once by ``tao-sparse4d-fix bundle DIR`` in the host venv (pip fetches wrapt)."""
    work = tmp_path_factory.mktemp("bundle")
    (work / "home").mkdir()
    directory = work / "tao-sparse4d-fix-bundle"
    SdkHost(host_python, work / "home").ok("bundle", str(directory))
    return directory
