"""Fixtures for the start-up tests: the INSTALLED plugin, loaded by its ``.pth``.

Nothing here needs torch or TAO. Once per session (and cached between sessions)
we build a wheel of the repository and a venv of the running interpreter with
the wheel installed non-editably (pip pulls in wrapt), so every test starts
real child interpreters exactly as a user's would start.

Cache: ``${TSF_TEST_CACHE:-~/.cache/tao-sparse4d-fix}/startup-tests/
py<X.Y>-<key>/``, where ``key`` hashes the package sources and the interpreter.
Set ``TSF_TEST_STARTUP_REBUILD=1`` to force a rebuild.
"""
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "tao_sparse4d_fix"
PTH = "tao_sparse4d_fix.pth"
ENV_VAR = "TAO_SPARSE4D_FIX"
SENTINEL = "_FirstTaoImport"
# Files at the repository root that go into (or steer) the build.
ROOT_BUILD_FILES = ("setup.py", "setup.cfg", "pyproject.toml", "README.md", "MANIFEST.in", "LICENSE", PTH)
KEEP_CACHE_ENTRIES = 4  # per interpreter; older ones are pruned

# A child reports what start-up left behind. The snapshot is taken before the
# report imports anything itself (json is imported afterwards).
PROBE = r"""
import sys
_mods = sorted(sys.modules)
_finders = [type(f).__module__ + "." + type(f).__qualname__ for f in sys.meta_path]
_plugin = getattr(sys.modules.get("tao_sparse4d_fix"), "__file__", None)
import json
sys.stdout.write(json.dumps({"modules": _mods, "meta_path": _finders, "plugin_file": _plugin}))
"""


# --------------------------------------------------------------------------- build


def _package_files():
    """(relative path, absolute path) of every source that goes into the wheel."""
    files = []
    for name in ROOT_BUILD_FILES:
        path = REPO / name
        if path.is_file():
            files.append((name, path))
    for path in sorted((REPO / PACKAGE).rglob("*")):
        rel = path.relative_to(REPO)
        if path.is_file() and "__pycache__" not in rel.parts and path.suffix not in (".pyc", ".pyo"):
            files.append((rel.as_posix(), path))
    return files


def _interpreter_id():
    base = getattr(sys, "_base_executable", sys.executable)
    return f"{sys.version}|{os.path.realpath(sys.executable)}|{os.path.realpath(base)}|{sysconfig.get_platform()}"


def _cache_key(files):
    digest = hashlib.sha256(_interpreter_id().encode())
    for rel, path in files:
        digest.update(b"\0" + rel.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def cache_root():
    root = os.environ.get("TSF_TEST_CACHE") or str(Path.home() / ".cache" / "tao-sparse4d-fix")
    return Path(root).expanduser() / "startup-tests"


def _run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode:
        raise RuntimeError(f"command failed ({proc.returncode}): {cmd}\n{proc.stdout}\n{proc.stderr}")
    return proc


def pip_env():
    """The environment for pip: ours, minus anything that would redirect the interpreter."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", ENV_VAR))}


def build_wheel(files, out_dir):
    """``pip wheel --no-deps`` of a clean copy of the sources.

    Building from a copy keeps a stale ``build/lib`` or ``*.egg-info`` in the
    work tree out of the wheel, and never writes into the work tree.
    """
    src = out_dir / "src"
    for rel, path in files:
        dest = src / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    wheels = out_dir / "wheel"
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q", "-w", str(wheels), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=pip_env())
    if proc.returncode:
        # Offline, or an index without setuptools: build with what this interpreter has.
        first = proc.stdout + proc.stderr
        proc = subprocess.run(cmd[:4] + ["--no-build-isolation"] + cmd[4:], capture_output=True, text=True, env=pip_env())
        if proc.returncode:
            raise RuntimeError(f"pip wheel failed:\n{first}\n--- without build isolation ---\n{proc.stdout}{proc.stderr}")
    (wheel,) = wheels.glob("tao_sparse4d_fix-*.whl")
    shutil.rmtree(src)
    return wheel


def make_venv(path, with_pip=True):
    cmd = [sys.executable, "-m", "venv", str(path)]
    if not with_pip:
        cmd.insert(3, "--without-pip")
    _run(cmd, env=pip_env())
    return path / "bin" / "python"


def site_packages(python):
    out = _run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], env=pip_env())
    return Path(out.stdout.strip())


@contextlib.contextmanager
def _locked(path):
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _prune(root, tag, keep):
    entries = sorted(root.glob(f"{tag}-*/"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in entries[keep:]:
        shutil.rmtree(stale, ignore_errors=True)


class PluginEnv:
    """The cached build: a wheel, and a venv with it installed."""

    def __init__(self, root):
        self.root = root
        info = json.loads((root / "ready.json").read_text())
        self.wheel = Path(info["wheel"])
        self.venv = Path(info["venv"])
        self.python = self.venv / "bin" / "python"
        self.site_packages = Path(info["site_packages"])
        self.pip_has_python_option = info["pip_has_python_option"]

    def pip(self, target_python, *args):
        """Run the test venv's pip against another interpreter (``pip --python``)."""
        return _run([str(self.python), "-m", "pip", "--python", str(target_python), "--disable-pip-version-check", *args], env=pip_env())

    def throwaway_venv(self, path, install_plugin=True):
        """A fresh venv of the same interpreter, optionally with the wheel (no deps)."""
        python = make_venv(path, with_pip=not self.pip_has_python_option)
        if install_plugin:
            self.install_into(python)
        return python

    def install_into(self, python):
        if self.pip_has_python_option:
            self.pip(python, "install", "--no-deps", "-q", str(self.wheel))
        else:
            _run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(self.wheel)], env=pip_env())

    def uninstall_from(self, python):
        if self.pip_has_python_option:
            return self.pip(python, "uninstall", "-y", "tao-sparse4d-fix")
        return _run([str(python), "-m", "pip", "uninstall", "-y", "tao-sparse4d-fix"], env=pip_env())


def ensure_plugin_env():
    files = _package_files()
    key = _cache_key(files)
    tag = f"py{sys.version_info[0]}.{sys.version_info[1]}"
    root = cache_root()
    entry = root / f"{tag}-{key}"
    with _locked(root / f".lock-{tag}"):
        ready = entry / "ready.json"
        if os.environ.get("TSF_TEST_STARTUP_REBUILD") or not ready.exists() or not (entry / "venv" / "bin" / "python").exists():
            shutil.rmtree(entry, ignore_errors=True)
            entry.mkdir(parents=True)
            wheel = build_wheel(files, entry)
            python = make_venv(entry / "venv")
            _run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", str(wheel)], env=pip_env())
            pip_version = _run([str(python), "-c", "import pip; print(pip.__version__)"], env=pip_env()).stdout.strip()
            major, minor = (int(part) for part in pip_version.split(".")[:2])
            ready.write_text(
                json.dumps(
                    {
                        "wheel": str(wheel),
                        "venv": str(entry / "venv"),
                        "site_packages": str(site_packages(python)),
                        "pip_has_python_option": (major, minor) >= (22, 3),
                        "interpreter": _interpreter_id(),
                        "built": time.strftime("%Y-%m-%d %H:%M:%S"),
                    },
                    indent=1,
                )
            )
        os.utime(entry)
        _prune(root, tag, KEEP_CACHE_ENTRIES)
    return PluginEnv(entry)


# --------------------------------------------------------------------------- children


def child_env(value=None, **extra):
    """A clean environment for a child interpreter, with ``TAO_SPARSE4D_FIX=value``.

    ``value=None`` leaves the variable unset. PYTHON* variables of the test
    runner (PYTHONPATH, PYTHONHOME, ...) are dropped so they cannot leak in.
    Values may be str or bytes (bytes reach the child undecoded).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", ENV_VAR, "PYENV_VERSION"))}
    if value is not None:
        env[ENV_VAR] = value
    env.update(extra)
    return env


class Children:
    """Starts child interpreters of the test venv."""

    def __init__(self, plugin_env, cwd):
        self.plugin_env = plugin_env
        self.python = plugin_env.python
        self.cwd = cwd  # an empty directory, so '' on sys.path finds no repo sources

    def run(self, code, value=None, python=None, env=None, timeout=60, **extra):
        if env is None:
            env = child_env(value, **extra)
        return subprocess.run(
            [str(python or self.python), "-c", code], capture_output=True, env=env, cwd=self.cwd, timeout=timeout
        )

    def probe(self, value=None, python=None, **extra):
        """Start-up state of a child: modules, meta_path finders, plugin file."""
        proc = self.run(PROBE, value, python=python, **extra)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        assert proc.stderr == b"", proc.stderr.decode(errors="replace")
        return json.loads(proc.stdout)

    env_for = staticmethod(child_env)

    @staticmethod
    def sentinel_count(probe):
        return sum(name.endswith("." + SENTINEL) for name in probe["meta_path"])

    def json(self, code, value=None, **extra):
        proc = self.run(code, value, **extra)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        return json.loads(proc.stdout), proc.stderr.decode(errors="replace")


@pytest.fixture(scope="session")
def plugin_env():
    return ensure_plugin_env()


@pytest.fixture(scope="session")
def children(plugin_env, tmp_path_factory):
    return Children(plugin_env, tmp_path_factory.mktemp("cwd"))


@pytest.fixture(scope="session")
def baseline(children):
    """Start-up state with the variable unset: what the plugin's additions are measured against."""
    return children.probe(None)


@pytest.fixture(scope="session")
def stub_tao(tmp_path_factory):
    """A directory holding a throwaway ``nvidia_tao_core`` with a ``config.sparse4d`` package (for PYTHONPATH).

    Only the names matter: the sentinel hands over on ``nvidia_tao_core.config.sparse4d``, not on
    ``nvidia_tao_core`` alone (another TAO network)."""
    root = tmp_path_factory.mktemp("stub_tao")
    for package in ("nvidia_tao_core", "nvidia_tao_core/config", "nvidia_tao_core/config/sparse4d"):
        (root / package).mkdir()
        (root / package / "__init__.py").write_text('"""Stand-in for TAO: only its name matters."""\n')
    (root / "nvidia_tao_core" / "__init__.py").write_text('"""Stand-in for TAO: only its name matters."""\nSTUB = True\n')
    return root
