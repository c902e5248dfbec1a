"""Fixtures for the TAO launcher tests (helpers in hostenv.py)."""
import pytest

from hostenv import Host, ensure_host_python


@pytest.fixture(scope="session")
def host_python():
    return ensure_host_python()


@pytest.fixture
def host(host_python, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return Host(host_python, home)
