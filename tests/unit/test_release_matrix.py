"""The rule in tests/unit/conftest.py: every test says whether it depends on the TAO release, and
``TSF_TEST_RELEASE_ONLY=1`` deselects the ``once`` tests (never skips them), in a pytest of its own."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.once  # the plugin's own logic: runs on one TAO release (tests/unit/conftest.py)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MODULES = {
    "test_module_once.py": "import pytest\n\npytestmark = pytest.mark.once\n\n\ndef test_a():\n    pass\n",
    "test_mixed.py": ("import pytest\n\npytestmark = pytest.mark.per_release\n\n\ndef test_b():\n    pass\n\n\n"
                      "@pytest.mark.once\ndef test_c():\n    pass\n"),
}


def collect(tmp_path, modules, release_only):
    unit = tmp_path / "tests" / "unit"
    unit.mkdir(parents=True)
    shutil.copy(HERE / "conftest.py", unit / "conftest.py")
    for name, text in modules.items():
        (unit / name).write_text(text)
    env = dict(os.environ, TSF_TEST_RELEASE_ONLY=release_only, PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.pop("TSF_TEST_TAO", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                           "--collect-only", "tests/unit"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)


def test_every_test_is_kept_where_release_only_is_unset(tmp_path):
    done = collect(tmp_path, MODULES, "0")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 tests collected" in done.stdout, done.stdout


def test_release_only_deselects_the_once_tests_and_keeps_the_closest_marker(tmp_path):
    done = collect(tmp_path, MODULES, "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1/3 tests collected (2 deselected)" in done.stdout, done.stdout
    assert "test_mixed.py::test_b" in done.stdout and "test_c" not in done.stdout and "test_a" not in done.stdout


def test_a_test_that_does_not_say_stops_the_collection_naming_it(tmp_path):
    unmarked = dict(MODULES, **{"test_new.py": "def test_d():\n    pass\n"})
    done = collect(tmp_path, unmarked, "0")
    assert done.returncode != 0
    assert "do not say whether they depend on the TAO release" in done.stderr + done.stdout
    assert "tests/unit/test_new.py::test_d" in done.stderr + done.stdout
    assert "test_mixed.py" not in done.stderr  # only the test that says nothing is named
