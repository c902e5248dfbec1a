"""The host-venv fixtures the launcher, SDK and FTMS suites share (each conftest imports them).

``host_python`` is ``harness/testenv.py``'s host venv (the real launcher, the
plugin installed non-editably, no torch, no TAO), built once per session;
``host_fixture(cls)`` makes a suite's ``host``: a ``cls(python, home)`` with a
fresh ``HOME`` under the test's ``tmp_path``.
"""
import pytest

from harness import testenv


@pytest.fixture(scope="session")
def host_python():
    """The host venv's python, built or refreshed first."""
    return testenv.ensure_host()


def host_fixture(host_class):
    """The ``host`` fixture of a suite whose host is ``host_class`` (``tests/launcher/hostenv.py``'s ``Host`` or a subclass)."""

    @pytest.fixture
    def host(host_python, tmp_path):
        home = tmp_path / "home"
        home.mkdir()
        return host_class(host_python, home)

    return host
