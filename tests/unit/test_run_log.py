"""Notes and warnings go through ``logging`` under the ``tao_sparse4d_fix`` logger, as the
same single lines as before: notes on stdout, warnings on stderr, each warning once."""
import logging
import subprocess
import sys
import textwrap

import pytest

from tao_sparse4d_fix.runtime import run_log

pytestmark = pytest.mark.once  # the plugin's own logic: runs on one TAO release (tests/unit/conftest.py)


@pytest.fixture
def records():
    seen = []
    handler = logging.Handler()
    handler.emit = seen.append
    run_log._logger().addHandler(handler)
    run_log._warned.clear()
    yield seen
    run_log.LOGGER.removeHandler(handler)
    run_log._warned.clear()


def test_a_note_is_one_stdout_line_and_a_logging_record(records, capsys):
    run_log.info("all 2 ranks run the fix")
    captured = capsys.readouterr()
    assert captured.out == "tao-sparse4d-fix: all 2 ranks run the fix\n" and captured.err == ""
    assert [(r.name, r.levelno, r.getMessage()) for r in records] == [
        ("tao_sparse4d_fix", logging.INFO, "all 2 ranks run the fix")]


def test_a_warning_is_one_stderr_line_once_per_process(records, capsys, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    for _ in range(3):
        run_log.warn("x.decode (side patch) failed")
    captured = capsys.readouterr()
    assert captured.err == "tao-sparse4d-fix: warning: x.decode (side patch) failed\n" and captured.out == ""
    assert [(r.levelno, r.getMessage()) for r in records] == [(logging.WARNING, "x.decode (side patch) failed")]


def test_a_warning_on_another_rank_is_not_written(records, capsys, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    run_log.warn("only rank 0 says this")
    assert capsys.readouterr().err == "" and records == []


def test_a_program_that_configures_the_logger_keeps_its_own_handlers():
    program = textwrap.dedent('''
        import logging, sys
        logging.basicConfig(stream=sys.stdout, format="%(name)s|%(levelname)s|%(message)s")
        logging.getLogger("tao_sparse4d_fix").addHandler(logging.StreamHandler(sys.stdout))
        from tao_sparse4d_fix.runtime import run_log
        run_log.warn("configured elsewhere")
    ''')
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    # its own handler, then the root's through propagation; none of the plugin's lines
    assert result.stdout == "configured elsewhere\ntao_sparse4d_fix|WARNING|configured elsewhere\n"
    assert result.stderr == ""
