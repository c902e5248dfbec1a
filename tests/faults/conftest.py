"""Fixtures for tests/faults (helpers in faultenv.py); the trial counts are printed at the end of the run."""
import pytest

from faultenv import Home, user_files

from tests.hostfixtures import host_python  # noqa: F401 (a fixture)

TRIALS = {}  # label -> trials run, printed in the summary


@pytest.fixture
def make_home(host_python, tmp_path):
    """``make_home(kind)``: a scratch HOME with the user's own files of that kind (faultenv.user_files)."""
    def make(kind, name="base"):
        home = Home(host_python, tmp_path / name)
        user_files(home, kind)
        return home
    return make


@pytest.fixture
def trials():
    def count(label, n):
        TRIALS[label] = TRIALS.get(label, 0) + n
    return count


def pytest_terminal_summary(terminalreporter):
    if TRIALS:
        terminalreporter.write_sep("-", "fault-injection trials")
        for label, n in sorted(TRIALS.items()):
            terminalreporter.write_line(f"{label}: {n}")
