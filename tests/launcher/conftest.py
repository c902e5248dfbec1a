"""Fixtures for the TAO launcher tests (helpers in hostenv.py, the shared fixtures in tests/hostfixtures.py)."""
from hostenv import Host

from tests.hostfixtures import host_fixture, host_python  # noqa: F401 (a fixture)

host = host_fixture(Host)
