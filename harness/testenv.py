#!/usr/bin/env python3
"""Build and use the test-only CPU environment for stock TAO Sparse4D.

One command builds everything from the package registry into a cache that is
reused between runs and rebuilt when its inputs change:

    python3 harness/testenv.py ensure [--tao V ...|--tao all] [--no-plugin]
    python3 harness/testenv.py run --tao 6.25.11 -- sparse4d train -e spec.yaml

Layout under ``$TSF_TEST_CACHE`` (default ~/.cache/tao-sparse4d-fix):

* ``venv`` (-> ``venv-<key>/``): Python 3.11 venv with CPU torch and TAO's
  runtime imports (requirements*.txt, pinned by constraints.txt); rebuilt when
  those files or the Python version change. The plugin is pip-installed into it non-editably,
  so its own ``.pth`` activates it; re-installed when its source changes.
* ``tao/<version>/``: ``pip install --no-deps --target`` of nvidia-tao-pytorch
  (and nvidia-tao-core) for one TAO release, wheels for Python 3.12 (TAO ships
  no others; the code is pure Python apart from the CUDA op we replace).
  Selected at run time by PYTHONPATH, which child processes inherit.
* ``host-venv/``: the machine that runs ``tao model ...``: the TAO launcher
  (requirements-host.txt: nvidia-tao and its dependencies, no torch, no TAO)
  and the plugin installed non-editably. ``ensure_host()`` (tests/launcher).
* ``ftms-venv/`` and ``ftms-core/<version>/``: TAO's fine-tuning microservices
  (nvidia-tao-core's ``microservices``, releases ``FTMS_CORE``) and what they
  import (requirements-ftms*.txt), no torch. ``ensure_ftms()`` (tests/ftms).

From Python: ``ensure([...])`` then ``tao_env(version)`` gives the environment
dict for ``subprocess.run`` (tests use this).
"""
import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HARNESS = Path(__file__).resolve().parent
REPO = HARNESS.parent
SITE_DIR = HARNESS / "site"  # sitecustomize + tao_cpu_testonly, first on PYTHONPATH
PLUGIN_PACKAGE = "tao_sparse4d_fix"
# The venv's interpreter: 3.11 (torch 2.13.0's CPU wheel here is cp311).
PYTHON = os.environ.get("TSF_TEST_PYTHON") or (sys.executable if sys.version_info[:2] == (3, 11) else "python3.11")

ALL_TAO = ["6.25.7.0.2", "6.25.9", "6.25.10", "6.25.11", "6.26.3", "7.0.0", "7.0.1", "7.1.0", "7.2.0", "7.3.0"]
DEFAULT_TAO = ["6.25.11", "7.2.0", "7.3.0"]
# nvidia-tao-core release installed next to each nvidia-tao-pytorch release (same number unless listed).
# 7.2.0+ import without it (telemetry/microservices imports are guarded), 7.0.x and 7.1.0 do not;
# installed for every release, as in the container. Core 7.0.0 has no
# telemetry package, which pytorch 7.0.0's entrypoint imports unguarded, so it gets 7.0.1.
CORE_VERSION = {"6.25.7.0.2": "6.25.7", "7.0.0": "7.0.1"}
# nvidia-tao-core releases whose FTMS (microservices) tests/ftms drives: 7.3.0 and the earliest with the
# same layout (handlers/execution_handlers, TAO_DEPLOY for deploy actions, TAO_TEST_MODE's mongomock).
FTMS_CORE = ["6.26.3", "7.3.0"]

# Set in every harness run: no network calls, no validation (its evaluation needs
# the real spatialai_data_utils), quiet wandb.
RUN_ENV = {
    "TELEMETRY_OPT_OUT": "yes",
    "WANDB_MODE": "disabled",
    "PL_TRAINER_LIMIT_VAL_BATCHES": "0",
    "TAO_CPU_TESTONLY": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def cache_root():
    return Path(os.environ.get("TSF_TEST_CACHE", Path.home() / ".cache" / "tao-sparse4d-fix"))


def venv_dir():
    return cache_root() / "venv"


def tao_dir(version):
    return cache_root() / "tao" / version


def _digest(paths, extra=""):
    h = hashlib.sha256(extra.encode())
    for p in paths:
        h.update(str(p.relative_to(REPO)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def build_log(name):
    """Where one environment build step writes its output: ``$TSF_TEST_CACHE/logs/<name>.log``."""
    return cache_root() / "logs" / f"{name}.log"


def _run(cmd, log, **kw):
    """Run one build step with its whole output (pip's included) in the file ``build_log(log)``.

    ``_fresh_log`` says in one line what is built and where its output goes; the output itself is
    printed only when the step fails (pip's warnings, e.g. ``Location ... is ignored`` for every missing index
    folder a machine's pip configuration names, would otherwise fill a newcomer's first screens).
    """
    path = build_log(log)
    with open(path, "a") as out:
        out.write("+ " + " ".join(map(str, cmd)) + "\n")
        out.flush()
        done = subprocess.run([str(c) for c in cmd], stdout=out, stderr=subprocess.STDOUT, **kw)
    if done.returncode:
        sys.stdout.flush()
        sys.stderr.write(path.read_text())
        raise subprocess.CalledProcessError(done.returncode, [str(c) for c in cmd],
                                            output=f"(output above and in {path})")


def _fresh_log(name):
    """Start the build ``name``: its log emptied, one line saying where its output goes."""
    path = build_log(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    print(f"building {name} (output: {path})", flush=True)
    return name


def _python_version(python):
    out = subprocess.run([python, "-c", "import sys; print(sys.version)"], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def ensure_venv():
    """Create or refresh the venv; its key hashes the requirement files and the Python version.

    Each key gets its own ``venv-<key>`` dir and ``venv`` is a symlink switched
    atomically to it, so processes still running from the previous venv are not
    pulled out from under their feet while the new one builds.
    """
    # not requirements-host.txt: the host venv's pins must not rebuild this one
    files = [HARNESS / name for name in ("requirements-nodeps.txt", "requirements.txt", "constraints.txt")]
    key = _digest(files, _python_version(PYTHON))
    link, real = venv_dir(), cache_root() / f"venv-{key[:16]}"
    if link.is_symlink() and link.resolve() == real and (real / ".harness-key").exists():
        return link
    if not (real / ".harness-key").exists():
        shutil.rmtree(real, ignore_errors=True)
        log = _fresh_log("venv")
        _run([PYTHON, "-m", "venv", real], log)
        pip = [real / "bin" / "python", "-m", "pip", "install", "--disable-pip-version-check", "-c", HARNESS / "constraints.txt"]
        _run(pip + ["-r", HARNESS / "requirements.txt"], log)
        _run(pip + ["--no-deps", "-r", HARNESS / "requirements-nodeps.txt"], log)
        (real / ".harness-key").write_text(key)
    if link.exists() and not link.is_symlink():
        shutil.rmtree(link)  # a plain dir from an older layout
    tmp = link.with_name(".venv-link")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(real.name)
    os.replace(tmp, link)
    for old in cache_root().glob("venv-*"):
        if old != real:
            shutil.rmtree(old, ignore_errors=True)
    return link


def ensure_tao(version):
    """Install one TAO release into its own --target dir (atomic: built aside, then renamed)."""
    if version not in ALL_TAO:
        raise SystemExit(f"unsupported TAO version {version}; supported: {', '.join(ALL_TAO)}")
    target = tao_dir(version)
    core = CORE_VERSION.get(version, version)
    key = f"nvidia-tao-pytorch=={version} nvidia-tao-core=={core}"
    stamp = target / ".harness-key"
    if stamp.exists() and stamp.read_text() == key:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
    _run([venv_dir() / "bin" / "python", "-m", "pip", "install", "--disable-pip-version-check", "--no-deps",
          "--target", tmp, "--python-version", "3.12", "--only-binary=:all:", *key.split()], _fresh_log(f"tao-{version}"))
    (tmp / ".harness-key").write_text(key)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def _plugin_sources():
    """The repo root's files (packaging, the .pth, README, ...) and the package's files."""
    files = sorted(p for p in REPO.iterdir() if p.is_file() and not p.name.startswith("."))
    files += sorted(p for p in (REPO / PLUGIN_PACKAGE).rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    return files


def ensure_plugin():
    _install_plugin(venv_dir())


def host_venv_dir():
    return cache_root() / "host-venv"


def ensure_host():
    """The "host" venv (the TAO launcher, no torch, no TAO) with the plugin installed non-editably.

    Rebuilt when requirements-host.txt or the Python changes; the plugin is
    re-installed when its source changes. Returns the venv's python.
    """
    cache_root().mkdir(parents=True, exist_ok=True)
    requirements = HARNESS / "requirements-host.txt"
    venv = host_venv_dir()
    with open(cache_root() / ".lock-host", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        key = _digest([requirements], _python_version(PYTHON))
        stamp = venv / ".harness-key"
        if not (stamp.exists() and stamp.read_text() == key):
            shutil.rmtree(venv, ignore_errors=True)
            log = _fresh_log("host-venv")
            _run([PYTHON, "-m", "venv", venv], log)
            _run([venv / "bin" / "python", "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", requirements], log)
            stamp.write_text(key)
        _install_plugin(venv)
    return venv / "bin" / "python"


def ftms_venv_dir():
    return cache_root() / "ftms-venv"


def ftms_core_dir(version):
    return cache_root() / "ftms-core" / version


def ensure_ftms(versions=FTMS_CORE):
    """The FTMS venv (TAO's fine-tuning microservices' imports, no torch) and one nvidia-tao-core per release.

    The venv is rebuilt when requirements-ftms*.txt or the Python changes; each
    ``ftms-core/<version>/`` is a ``pip install --no-deps --target`` of that
    nvidia-tao-core, selected at run time by PYTHONPATH. Returns the venv's python.
    """
    cache_root().mkdir(parents=True, exist_ok=True)
    requirements = [HARNESS / "requirements-ftms.txt", HARNESS / "requirements-ftms-nodeps.txt"]
    venv = ftms_venv_dir()
    with open(cache_root() / ".lock-ftms", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        key = _digest(requirements, _python_version(PYTHON))
        stamp = venv / ".harness-key"
        if not (stamp.exists() and stamp.read_text() == key):
            shutil.rmtree(venv, ignore_errors=True)
            log = _fresh_log("ftms-venv")
            _run([PYTHON, "-m", "venv", venv], log)
            pip = [venv / "bin" / "python", "-m", "pip", "install", "--disable-pip-version-check", "-q"]
            _run(pip + ["-r", requirements[0]], log)
            _run(pip + ["--no-deps", "-r", requirements[1]], log)
            stamp.write_text(key)
        for version in versions:
            target = ftms_core_dir(version)
            core = f"nvidia-tao-core=={version}"
            if (target / ".harness-key").exists() and (target / ".harness-key").read_text() == core:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
            _run([venv / "bin" / "python", "-m", "pip", "install", "--disable-pip-version-check", "-q",
                  "--no-deps", "--target", tmp, core], _fresh_log(f"ftms-core-{version}"))
            (tmp / ".harness-key").write_text(core)
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
    return venv / "bin" / "python"


def _install_plugin(venv):
    """pip-install the repo into ``venv``, non-editably, when its package source changed.

    Built from a copy of the root files and the package, so the build leaves
    nothing (build/, *.egg-info) in the work tree.
    """
    if not any((REPO / n).is_file() for n in ("setup.cfg", "setup.py", "pyproject.toml")):
        raise SystemExit("no setup.cfg/setup.py/pyproject.toml at the repo root; use --no-plugin until the plugin exists")
    files = _plugin_sources()
    key = _digest(files)
    stamp = venv / ".plugin-key"
    if stamp.exists() and stamp.read_text() == key:
        return
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            dest = Path(tmp) / f.relative_to(REPO)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dest)
        _run([venv / "bin" / "python", "-m", "pip", "install", "--disable-pip-version-check", "--no-deps",
              "--no-build-isolation", "--force-reinstall", tmp], _fresh_log(f"plugin-{Path(venv).name}"))
    stamp.write_text(key)


def ensure(versions=DEFAULT_TAO, plugin=True):
    """Build/refresh everything needed to run the given TAO versions; returns their dirs.

    Holds an exclusive lock on the cache so concurrent callers (parallel test
    sessions) build once and never see a half-built venv.
    """
    cache_root().mkdir(parents=True, exist_ok=True)
    with open(cache_root() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ensure_venv()
        dirs = [ensure_tao(v) for v in versions]
        if plugin:
            ensure_plugin()
    return dirs


def tao_env(version, base=None):
    """Environment for a child process running TAO ``version`` on the CPU (call ``ensure`` first).

    The venv's bin comes first on PATH (TAO's launcher runs a bare ``python``), then
    the TAO dir's bin (console scripts such as ``sparse4d``); PYTHONPATH selects
    the harness site dir and the TAO release. TAO_SPARSE4D_FIX is left as in ``base``.
    """
    env = dict(os.environ if base is None else base)
    venv, tao = venv_dir(), tao_dir(version)
    if not (tao / ".harness-key").exists():
        raise RuntimeError(f"TAO {version} is not built; run: python3 harness/testenv.py ensure --tao {version}")
    env["PATH"] = os.pathsep.join([str(venv / "bin"), str(tao / "bin"), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(SITE_DIR), str(tao)])
    env["VIRTUAL_ENV"] = str(venv)
    env.pop("PYTHONHOME", None)
    env.update(RUN_ENV)
    # OpenMP threads that spin while waiting burn the 2 cores when other processes
    # share them (measured: 53 s -> 15 s CPU for a 4-step run under load); a caller may override.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_ensure = sub.add_parser("ensure", help="build/refresh the environment and print its paths")
    p_ensure.add_argument("--tao", nargs="+", default=DEFAULT_TAO, help="versions, or 'all'")
    p_ensure.add_argument("--no-plugin", action="store_true", help="do not install the plugin from the repo")
    p_run = sub.add_parser("run", help="run a command in the environment of one TAO version")
    p_run.add_argument("--tao", default=DEFAULT_TAO[0])
    p_run.add_argument("command", nargs=argparse.REMAINDER, help="-- command args...")
    args = parser.parse_args(argv)

    if args.cmd == "ensure":
        versions = ALL_TAO if args.tao == ["all"] else args.tao
        try:
            dirs = ensure(versions, plugin=not args.no_plugin)
        except subprocess.CalledProcessError as failed:  # its output is printed above
            print(f"environment build failed (exit status {failed.returncode}): {' '.join(failed.cmd)}\n"
                  f"{failed.output}", file=sys.stderr)
            return 1
        print(f"venv: {venv_dir()}")
        for v, d in zip(versions, dirs):
            print(f"tao {v}: {d}")
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("run needs a command after --")
    env = tao_env(args.tao)
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    sys.exit(main())
