"""Fixtures for the TAO SDK tests (helpers in sdkjobs.py, the SDK jobs in sdk_driver.py, shared in tests/hostfixtures.py)."""
import pytest

from sdkjobs import SdkHost

from tests.hostfixtures import host_fixture, host_python  # noqa: F401 (a fixture)

host = host_fixture(SdkHost)


@pytest.fixture(scope="session")
def bundle(host_python, tmp_path_factory):
    """A real bundle, built once by ``tao-sparse4d-fix bundle DIR`` in the host venv (pip fetches wrapt)."""
    work = tmp_path_factory.mktemp("bundle")
    (work / "home").mkdir()
    directory = work / "tao-sparse4d-fix-bundle"
    SdkHost(host_python, work / "home").ok("bundle", str(directory))
    return directory
