"""Fixtures for the TAO launcher tests (helpers in hostenv.py)."""
import pytest

from hostenv import Host, testenv


@pytest.fixture(scope="session")
def host_python():
    return testenv.ensure_host()


@pytest.fixture
def host(host_python, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return Host(host_python, home)
