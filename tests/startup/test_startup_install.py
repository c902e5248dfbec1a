"""Install, uninstall and a broken install, each in its own throwaway venv."""
import hashlib
import shutil

import pytest

PTH = "tao_sparse4d_fix.pth"
PROBE = "import sys; sys.stdout.write(str(sum(type(f).__name__ == '_FirstTaoImport' for f in sys.meta_path)))"


def snapshot(root):
    """Every path under ``root`` with its kind and, for files, a content hash."""
    entries = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            entries[rel] = "link:" + str(path.readlink())
        elif path.is_dir():
            entries[rel] = "dir"
        else:
            entries[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return entries


# ----------------------------------------------------------------- 7. uninstall


def test_pip_uninstall_leaves_no_residue(plugin_env, children, tmp_path):
    venv = tmp_path / "venv"
    python = plugin_env.throwaway_venv(venv, install_plugin=False)
    (site,) = venv.glob("lib/python*/site-packages")
    # A site-packages holding nothing but the plugin would be removed whole by
    # pip's uninstall (every file in it is the plugin's); real ones hold more.
    (site / "someone_elses.py").write_text("")
    before = snapshot(venv)

    plugin_env.install_into(python)
    installed = snapshot(venv)
    added = sorted(set(installed) - set(before))
    site_rel = site.relative_to(venv).as_posix()
    assert f"{site_rel}/{PTH}" in added, added
    assert f"{site_rel}/tao_sparse4d_fix/_bootstrap.py" in added
    assert "bin/tao-sparse4d-fix" in added
    # The install is live: its .pth arms the sentinel (wrapt is not even installed here).
    for value, sentinels in (("1", b"1"), (None, b"0")):
        proc = children.run(PROBE, value, python=python)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, sentinels, b""), proc.stderr

    plugin_env.uninstall_from(python)
    after = snapshot(venv)
    residue = sorted(set(after) - set(before))
    changed = sorted(k for k in set(after) & set(before) if after[k] != before[k])
    missing = sorted(set(before) - set(after))
    assert residue == [], residue
    assert changed == [], changed
    assert missing == [], missing
    proc = children.run(PROBE, "1", python=python)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"0", b""), proc.stderr


# ----------------------------------------------------------------- 8. broken install


def _break_missing(pkg):
    shutil.rmtree(pkg)


def _break_init_raises(pkg):
    (pkg / "__init__.py").write_text("raise RuntimeError('deliberately broken package')\n")


def _break_bootstrap_syntax(pkg):
    (pkg / "_bootstrap.py").write_text("def activate(:\n")


def _break_bootstrap_no_activate(pkg):
    (pkg / "_bootstrap.py").write_text("'''activate() is gone'''\n")


def _break_activate_raises(pkg):
    (pkg / "_bootstrap.py").write_text("def activate():\n    raise ValueError('deliberately broken activate')\n")


BREAKAGES = {
    "package-dir-deleted": _break_missing,
    "init-raises": _break_init_raises,
    "bootstrap-syntax-error": _break_bootstrap_syntax,
    "bootstrap-without-activate": _break_bootstrap_no_activate,
    "activate-raises": _break_activate_raises,
}


@pytest.fixture(scope="module")
def broken_venv(plugin_env, tmp_path_factory):
    """A venv with the wheel installed (no deps) and a pristine copy of its package."""
    venv = tmp_path_factory.mktemp("broken") / "venv"
    python = plugin_env.throwaway_venv(venv)
    (site,) = venv.glob("lib/python*/site-packages")
    pristine = venv.parent / "pristine"
    shutil.copytree(site / "tao_sparse4d_fix", pristine)
    return python, site, pristine


def restore(broken_venv):
    python, site, pristine = broken_venv
    pkg = site / "tao_sparse4d_fix"
    shutil.rmtree(pkg, ignore_errors=True)
    shutil.copytree(pristine, pkg)
    shutil.rmtree(pkg / "__pycache__", ignore_errors=True)
    assert (site / PTH).is_file()
    return python, pkg


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_pth_line_never_raises(children, broken_venv, breakage):
    python, pkg = restore(broken_venv)
    BREAKAGES[breakage](pkg)

    for value in ("1", "on", "junk"):
        proc = children.run("pass", value, python=python)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == b""
        lines = proc.stderr.decode().splitlines()
        # One warning line. In a venv, site.py runs every .pth file twice
        # (CPython's site.venv() and site.main() both call addsitepackages on
        # the venv's site-packages), so the same line may appear twice.
        assert lines and len(set(lines)) == 1 and len(lines) <= 2, lines
        assert lines[0].startswith("tao-sparse4d-fix: not activated:"), lines
    # Switched off, the broken package is never touched: silent.
    proc = children.run("pass", None, python=python)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")


def test_broken_install_warns_exactly_once_in_a_venv(children, broken_venv):
    python, pkg = restore(broken_venv)
    _break_missing(pkg)
    proc = children.run("pass", "1", python=python)
    assert proc.returncode == 0
    assert len(proc.stderr.decode().splitlines()) == 1, proc.stderr


def test_pristine_install_without_wrapt_starts_silently(children, broken_venv):
    """wrapt is only needed when TAO is imported, never at start."""
    python, pkg = restore(broken_venv)
    assert not list(pkg.parent.glob("wrapt*"))
    proc = children.run(PROBE, "1", python=python)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"1", b""), proc.stderr
