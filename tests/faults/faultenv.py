"""Helpers for tests/faults: a scratch HOME, the command under a fault, and the exact state of the files.

The commands run as a user runs them: the host venv's python (the real
nvidia-tao 6.26.3 launcher, the plugin installed non-editably), ``HOME`` a
temporary folder. ``tree()`` is what a user could lose: every file's bytes,
mode and owner, every symlink's text, every folder, read without following
links.
"""
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "launcher"))

from hostenv import LAUNCHER_VIEW, clean_env  # noqa: E402

INJECT = HERE / "inject.py"
TMP_MARK = ".tsf-tmp-"
PIP_LEAVES = (".rustup", ".cache")  # what pip (bundle fetches wrapt with it) leaves in HOME: not ours
CUSTOM = "registry.example.com:5000/team/tao-fixed:v3"


def tree(root):
    """{relative path: entry} of everything under ``root`` (links not followed)."""
    entries = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISLNK(info.st_mode):
                entries[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                entries[rel] = ("dir", stat.S_IMODE(info.st_mode))
            elif not stat.S_ISREG(info.st_mode):
                entries[rel] = ("special", stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode))
            else:
                entries[rel] = (Path(path).read_bytes(), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
    return entries


def leftovers(root):
    """Temporaries and ``.before-undo`` copies anywhere under ``root``."""
    return sorted(rel for rel in tree(root) if TMP_MARK in rel or ".before-undo" in rel)


def content(path):
    """The bytes a reader of ``path`` gets (through a link), or None."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        return None


class Home:
    """A scratch HOME (and a dotfiles folder beside it) for one trial."""

    def __init__(self, python, root):
        self.python = str(python)
        self.root = Path(root)
        self.home = self.root / "home"
        self.dotfiles = self.root / "dotfiles"
        self.config = self.home / ".tao" / "config.json"
        self.mounts = self.home / ".tao_mounts.json"
        self.state = self.home / ".tao-sparse4d-fix"

    def files(self):
        """``tree()`` of HOME and of the dotfiles folder: everything of the user's."""
        found = {f"home/{k}": v for k, v in tree(self.home).items() if k.split(os.sep)[0] not in PIP_LEAVES}
        if self.dotfiles.exists():
            found.update({f"dotfiles/{k}": v for k, v in tree(self.dotfiles).items()})
        return found

    def leftovers(self):
        return leftovers(self.home) + (leftovers(self.dotfiles) if self.dotfiles.exists() else [])

    def cli(self, *args, **env):
        return subprocess.run([self.python, "-m", "tao_sparse4d_fix", *args], capture_output=True, text=True,
                              env=clean_env(self.home, **env), cwd=self.home, timeout=300)

    def ok(self, *args, **env):
        result = self.cli(*args, **env)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def popen(self, *args, **env):
        return subprocess.Popen([self.python, "-m", "tao_sparse4d_fix", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=clean_env(self.home, **env), cwd=self.home)

    def inject(self, mode, where, *args, **env):
        """(result, [operation names]) of ``args`` run under inject.py."""
        report = self.root / "calls.txt"
        report.unlink(missing_ok=True)
        result = subprocess.run([self.python, str(INJECT), mode, str(where), str(report), "--", *args],
                                capture_output=True, text=True, env=clean_env(self.home, **env), cwd=self.home,
                                timeout=300)
        calls = report.read_text().split() if report.exists() else []
        return result, calls

    def launcher_view(self, **env):
        out = self.root / "launcher-view.json"
        result = subprocess.run([self.python, "-c", LAUNCHER_VIEW, str(out)], capture_output=True, text=True,
                                env=clean_env(self.home, **env), cwd=self.home, timeout=120)
        assert result.returncode == 0, result.stderr
        return json.loads(out.read_text())

    def copy_to(self, other_root):
        shutil.copytree(self.root, other_root, symlinks=True)
        return Home(self.python, other_root)


def user_files(home, kind):
    """Give ``home`` the user's own files: ``fresh`` (none), ``existing`` (both, own formatting and modes),
    ``symlinks`` (both are links into a dotfiles folder, as dotfiles managers make them)."""
    home.home.mkdir(parents=True, exist_ok=True)
    if kind == "fresh":
        return
    (home.home / "data").mkdir(exist_ok=True)
    mounts = ('{"Mounts":[{"source":"%s","destination":"/workspace/data"}],"Envs":[{"variable":"WANDB_MODE",'
              '"value":"offline"}],"DockerOptions":{"shm_size":"16G"}}' % (home.home / "data"))
    config = packaged_config(home.python)
    if kind == "existing":
        home.config.parent.mkdir(exist_ok=True)
        home.config.write_bytes(config)
        os.chmod(home.config, 0o640)
        home.mounts.write_text(mounts)
        os.chmod(home.mounts, 0o600)
    elif kind == "symlinks":
        home.dotfiles.mkdir(exist_ok=True)
        (home.dotfiles / "tao-config.json").write_bytes(config)
        os.chmod(home.dotfiles / "tao-config.json", 0o640)
        (home.dotfiles / "tao_mounts.json").write_text(mounts)
        home.config.parent.mkdir(exist_ok=True)
        os.symlink("../../dotfiles/tao-config.json", home.config)
        os.symlink("../dotfiles/tao_mounts.json", home.mounts)  # relative: a copied HOME keeps its own
    else:
        raise ValueError(kind)


_PACKAGED = {}


def packaged_config(python):
    """The launcher's own map, re-indented as a user's file might be (1 space, sorted keys, no final newline)."""
    if python not in _PACKAGED:
        code = ("import json, importlib.metadata as m; d = m.distribution('nvidia-tao'); "
                "p = d.locate_file('nvidia_tao_cli/config/config.json'); "
                "print(json.dumps(json.load(open(p)), indent=1, sort_keys=True), end='')")
        _PACKAGED[python] = subprocess.run([python, "-c", code], capture_output=True, check=True).stdout
    return _PACKAGED[python]
