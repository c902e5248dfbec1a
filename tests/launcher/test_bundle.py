"""``tao-sparse4d-fix bundle``: placed in a fresh Python 3.12 exactly where its printed mounts put it.

The bind mounts the launcher would make are reproduced with ``unshare -m`` and
``mount --bind`` (root only): a private tmpfs over ``/opt`` holds the mount
point, so nothing outside the test's mount namespace changes. The fresh
environment is a ``python3.12 -m venv --without-pip``: no pip, no wrapt, no
plugin; only the two mounts bring them in. TAO is a one-line stand-in package
(importing real TAO needs torch): what matters is that its first import hands
over to the plugin's registry, with wrapt from the bundle.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hostenv import clean_env

MOUNT_POINT = "/opt/tao-sparse4d-fix"

PROBE = r"""
import json, sys
start = {
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "wrapt", "tao_sparse4d_fix", "nvidia_tao_pytorch")),
    "path_tail": sys.path[-1],
    "bundle_on_path": [p for p in sys.path if "tao-sparse4d-fix" in p],
    "sentinels": sum(type(f).__name__ == "_FirstTaoImport" for f in sys.meta_path),
}
import nvidia_tao_pytorch.cv.sparse4d  # the stand-in: the sentinel hands over at TAO's Sparse4D
after = {"modules": sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "wrapt"))}
if "tao_sparse4d_fix.runtime.registry" in sys.modules:
    import wrapt, wrapt.importer
    from tao_sparse4d_fix.runtime import registry
    import tao_sparse4d_fix
    after.update({
        "plugin": tao_sparse4d_fix.__file__, "wrapt": wrapt.__file__, "wrapt_version": wrapt.__version__,
        "wrapt_extension": getattr(sys.modules.get("wrapt._wrappers"), "__file__", None),
        "hooks": {n: sum(h is registry._on_import for h in wrapt.importer._post_import_hooks.get(n) or [])
                  for n in registry.module_names()},
        "state": {k: getattr(registry._state, k) for k in ("installed", "enabled")},
    })
print(json.dumps({"start": start, "after": after}))
"""


def _python312():
    candidates = [os.environ.get("PYTHON312"), shutil.which("python3.12")]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    for candidate in filter(None, candidates):
        result = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                                capture_output=True, text=True)
        if result.stdout.strip() == "True":
            return candidate
    pytest.skip("no Python 3.12 here (set PYTHON312)")


def _can_bind_mount():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def fresh312(tmp_path_factory):
    """A fresh Python 3.12 environment without pip: (python, site-packages)."""
    venv = tmp_path_factory.mktemp("py312") / "venv"
    subprocess.run([_python312(), "-m", "venv", "--without-pip", str(venv)], check=True, env=clean_env(venv.parent))
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    return python, Path(site)


def printed_mounts(stdout):
    """The JSON list of Mounts entries the command printed."""
    start = stdout.index("\n[") + 1
    end = stdout.index("\n]", start) + 2
    return json.loads(stdout[start:end])


def stand_in_tao(root):
    package = root / "nvidia_tao_pytorch"
    (package / "cv" / "sparse4d").mkdir(parents=True)
    for folder in (package, package / "cv", package / "cv" / "sparse4d"):
        (folder / "__init__.py").write_text('"""Stand-in for TAO: only its name matters."""\n')
    (root / "torch").mkdir()
    (root / "torch" / "__init__.py").write_text("raise ImportError('torch must not be imported at start-up')\n")
    return root


@pytest.mark.skipif(not _can_bind_mount(), reason="needs root and unshare -m to reproduce the bind mounts")
def test_bundle_activates_in_a_fresh_python312_only_when_switched_on(host, fresh312, tmp_path):
    python, site = fresh312
    result = host.ok("bundle", str(tmp_path / "bundle"), "--site-packages", str(site), "--write-mounts")
    entries = printed_mounts(result.stdout)
    bundle = str(tmp_path / "bundle")
    assert entries == [
        {"source": bundle, "destination": MOUNT_POINT},
        {"source": f"{bundle}/tao_sparse4d_fix.pth", "destination": f"{site}/tao_sparse4d_fix_bundle.pth"},
    ]
    assert host.launcher_view()["mounts"] == {
        "Mounts": entries, "Envs": ["TAO_SPARSE4D_FIX=1"], "DockerOptions": {}}  # the launcher accepts them
    assert not (site / "wrapt").exists() and not list(site.glob("tao_sparse4d_fix*"))  # only the mounts bring it

    tao = stand_in_tao(tmp_path / "tao")
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "probe.py").write_text(PROBE)
    binds = [f"{'mkdir -p' if Path(e['source']).is_dir() else 'touch'} {e['destination']} && "
             f"mount --bind {e['source']} {e['destination']}" for e in entries]
    probe = f"{python} {tmp_path}/probe.py"
    script = "\n".join([
        "set -e",
        "mount -t tmpfs tmpfs /opt",  # private to this namespace: the mount point needs a parent
        *binds,
        f"env PYTHONPATH={tao} TAO_SPARSE4D_FIX=1 {probe} > {out}/on.json 2> {out}/on.err",
        f"env PYTHONPATH={tao} {probe} > {out}/unset.json 2> {out}/unset.err",
        f"env PYTHONPATH={tao} TAO_SPARSE4D_FIX=0 {probe} > {out}/zero.json 2> {out}/zero.err",
        f"env TAO_SPARSE4D_FIX=1 {python} -m tao_sparse4d_fix doctor > {out}/doctor.txt 2>&1 || true",
        f"cp -r {MOUNT_POINT}/wrapt {site}/wrapt",  # now the "image" has a wrapt of its own
        f"env PYTHONPATH={tao} TAO_SPARSE4D_FIX=1 {probe} > {out}/own-wrapt.json 2> {out}/own-wrapt.err",
    ])
    run = subprocess.run(["unshare", "-m", "bash", "-c", script], capture_output=True, text=True, timeout=120,
                         env=clean_env(tmp_path))
    assert run.returncode == 0, run.stderr
    assert not Path(MOUNT_POINT).exists()  # the mounts stayed inside the namespace
    for name in ("on", "unset", "zero", "own-wrapt"):
        assert (out / f"{name}.err").read_text() == "", name

    on = json.loads((out / "on.json").read_text())
    assert on["start"] == {"modules": ["tao_sparse4d_fix", "tao_sparse4d_fix._bootstrap", "tao_sparse4d_fix._version",
                                       "tao_sparse4d_fix.switches"],
                           "path_tail": MOUNT_POINT, "bundle_on_path": [MOUNT_POINT], "sentinels": 1}
    after = on["after"]
    assert after["plugin"] == f"{MOUNT_POINT}/tao_sparse4d_fix/__init__.py"
    assert after["wrapt"] == f"{MOUNT_POINT}/wrapt/__init__.py"
    assert after["wrapt_extension"].startswith(f"{MOUNT_POINT}/wrapt/_wrappers.cpython-312")  # built for 3.12
    assert after["hooks"] and set(after["hooks"].values()) == {1}
    assert after["state"] == {"installed": True, "enabled": True}
    assert not any(m.split(".")[0] == "torch" for m in after["modules"])

    for name in ("unset", "zero"):
        off = json.loads((out / f"{name}.json").read_text())
        assert off["start"] == {"modules": [], "path_tail": off["start"]["path_tail"], "bundle_on_path": [], "sentinels": 0}
        assert off["start"]["path_tail"] != MOUNT_POINT
        assert off["after"] == {"modules": []}  # TAO imported, nothing of the plugin or wrapt loaded

    own = json.loads((out / "own-wrapt.json").read_text())
    assert own["after"]["wrapt"] == f"{site}/wrapt/__init__.py"  # appended: the image's wrapt wins
    assert own["after"]["plugin"] == f"{MOUNT_POINT}/tao_sparse4d_fix/__init__.py"
    assert own["after"]["state"] == {"installed": True, "enabled": True}

    doctor = (out / "doctor.txt").read_text()
    assert f"bundle: loaded from {MOUNT_POINT} (built for Python 3.12, this is 3.12; its wrapt " in doctor
    assert f"bundle start-up file: {site}/tao_sparse4d_fix_bundle.pth" in doctor
    assert f"wrapt: {after['wrapt_version']} from {MOUNT_POINT}/wrapt" in doctor


def test_bundle_layout_and_start_up_line(host, tmp_path):
    result = host.ok("bundle", str(tmp_path / "b"))
    bundle = tmp_path / "b"
    assert printed_mounts(result.stdout) == [
        {"source": str(bundle), "destination": MOUNT_POINT},
        {"source": f"{bundle}/tao_sparse4d_fix.pth",
         "destination": "/usr/local/lib/python3.12/dist-packages/tao_sparse4d_fix_bundle.pth"},
    ]
    marker = json.loads((bundle / "tao_sparse4d_fix_bundle.json").read_text())
    assert marker["python_version"] == "3.12" and marker["mount_point"] == MOUNT_POINT
    assert marker["wrapt"] == next(bundle.glob("wrapt-*.dist-info")).name[len("wrapt-"):-len(".dist-info")]
    assert list(bundle.glob("wrapt/_wrappers.cpython-312*.so"))  # the container's ABI, not the host's 3.11
    assert not list(bundle.rglob("__pycache__"))
    (line,) = (bundle / "tao_sparse4d_fix.pth").read_text().splitlines()
    usual = (host.site_packages() / "tao_sparse4d_fix.pth").read_text().strip()
    assert line.startswith("import os; ") and line.endswith("; " + usual)  # appends, then the usual start-up line
    assert "sys.path.append('/opt/tao-sparse4d-fix')" in line and "sys.path.insert" not in line
    assert "PYTHONPATH" not in line and "sitecustomize" not in line
    assert not (host.home / ".tao_mounts.json").exists()  # only --write-mounts touches it


def test_write_mounts_is_idempotent_and_undone(host, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    host.mounts.write_text(json.dumps({"Mounts": [{"source": str(data), "destination": "/data"}]}))
    original = host.mounts.read_bytes()
    host.ok("bundle", str(tmp_path / "b"), "--write-mounts")
    host.mounts.write_text(json.dumps(json.loads(host.mounts.read_text())))  # same entries, the user's formatting
    first = host.mounts.read_bytes()
    again = host.ok("bundle", str(tmp_path / "b"), "--write-mounts")  # rebuilds the bundle in place
    assert "already holds them" in again.stdout
    assert host.mounts.read_bytes() == first  # not even reformatted
    view = host.launcher_view()["mounts"]
    assert [m["destination"] for m in view["Mounts"]] == [
        "/data", MOUNT_POINT, "/usr/local/lib/python3.12/dist-packages/tao_sparse4d_fix_bundle.pth"]
    assert view["Envs"] == ["TAO_SPARSE4D_FIX=1"]
    doctor = host.cli("doctor").stdout
    assert "TAO_SPARSE4D_FIX=1 passed; bundle mounted at /usr/local/lib/python3.12/dist-packages/tao_sparse4d_fix_bundle.pth" in doctor
    host.ok("launcher", "--undo")
    assert host.mounts.read_bytes() == original


@pytest.mark.parametrize("args,message", [
    (["--python-version", "3.9"], "--python-version '3.9' is not valid"),
    (["--python-version", "twelve"], "--python-version 'twelve' is not valid"),
    (["--site-packages", "dist-packages"], "--site-packages 'dist-packages' is not an absolute path"),
])
def test_bad_options_are_refused_naming_the_value(host, tmp_path, args, message):
    result = host.cli("bundle", str(tmp_path / "b"), *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert not (tmp_path / "b").exists()


def test_a_folder_that_is_not_a_bundle_is_left_alone(host, tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    result = host.cli("bundle", str(target))
    assert result.returncode == 1
    assert f"{target} exists and is not an empty folder or a previous bundle" in result.stderr
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_doctor_flags_a_bundle_built_for_another_python(host, tmp_path):
    host.ok("bundle", str(tmp_path / "b"))  # for 3.12; the host venv runs 3.11
    result = host.cli("doctor", PYTHONPATH=str(tmp_path / "b"), TAO_SPARSE4D_FIX="1")
    assert f"bundle: loaded from {tmp_path / 'b'} (built for Python 3.12, this is 3.11;" in result.stdout
    assert (f"PROBLEM: the bundle at {tmp_path / 'b'} was built for Python 3.12, this is 3.11: "
            "rebuild it with tao-sparse4d-fix bundle DIR --python-version 3.11") in result.stdout
    assert result.returncode == 1


def test_another_container_python_gets_its_own_wheel_and_site_packages(host, tmp_path):
    result = host.ok("bundle", str(tmp_path / "b"), "--python-version", "3.13")
    assert printed_mounts(result.stdout)[1]["destination"] == \
        "/usr/local/lib/python3.13/dist-packages/tao_sparse4d_fix_bundle.pth"
    assert list((tmp_path / "b").glob("wrapt/_wrappers.cpython-313*.so"))
    assert not list((tmp_path / "b").glob("wrapt/_wrappers.cpython-312*.so"))
