"""The TAO launcher tests' "host": the real launcher, its own readers, and the plugin's CLI.

The host is ``harness/testenv.py``'s host venv: nvidia-tao 6.26.3 from the
registry (with its dependencies), the plugin installed non-editably, no torch
and no TAO. Every command runs in a child process with ``HOME`` pointed at a
temporary folder, so the files under test are ``$HOME/.tao/config.json`` and
``$HOME/.tao_mounts.json`` exactly as the launcher finds them.
"""
import json
import os
import subprocess
from pathlib import Path

from harness import testenv

REPO = testenv.REPO

STOCK = "nvcr.io/nvidia/tao/tao-toolkit:6.26.3-pyt"
DERIVED = STOCK + "-sparse4d-fix"


# What the launcher itself makes of $HOME's files: its own config loader and
# task-map parser, its own mounts reader, and its own image-name composition.
# (DockerHandler.__init__ connects to a Docker daemon, so the handler is built
# without it; the methods used read only the attributes set here.)
LAUNCHER_VIEW = r"""
import json, os, sys
from nvidia_tao_cli.components.instance_handler.utils import get_config_file
from nvidia_tao_cli.components.instance_handler.local_instance import LocalInstance
from nvidia_tao_cli.components.docker_handler.docker_handler import DockerHandler

def handler(task=None):
    h = DockerHandler.__new__(DockerHandler)
    h.initialized = True
    h._docker_mount_file = os.path.expanduser(os.getenv("LAUNCHER_MOUNTS", "~/.tao_mounts.json"))
    if task is not None:
        h._docker_registry, h._image_name, h._docker_tag = task.docker_registry, task.docker_image, task.docker_tag
    return h

path = get_config_file()
task_map, _ = LocalInstance.parse_launcher_config(LocalInstance.load_config(path))
view = {"config": path, "images": {f"{group} {name}": handler(task).docker_image
                                   for group, tasks in task_map.items() for name, task in tasks.items()}}
try:
    mounts, envs, options = handler()._get_mount_env_data()
    view["mounts"] = {"Mounts": mounts, "Envs": DockerHandler.formatted_envs(envs), "DockerOptions": options}
except Exception as error:
    view["mounts"] = {"error": repr(error)}
with open(sys.argv[1], "w") as out:
    json.dump(view, out)
"""


def clean_env(home, **extra):
    """The child's environment: our PATH and HOME=home, none of the variables that would steer the result."""
    drop = ("PYTHON", "VIRTUAL_ENV", "TAO_SPARSE4D_FIX", "LAUNCHER_MOUNTS", "OVERRIDE_REGISTRY", "PYENV_VERSION")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["HOME"] = str(home)
    env.update(extra)
    return env


class Host:
    """Runs the plugin's CLI and the launcher's readers in the host venv, with HOME=home."""

    def __init__(self, python, home):
        self.python = python
        self.home = home
        self.config = home / ".tao" / "config.json"
        self.mounts = home / ".tao_mounts.json"

    def cli(self, *args, python=None, flags=(), **env):
        return subprocess.run([str(python or self.python), *flags, "-m", "tao_sparse4d_fix", *args], capture_output=True,
                              text=True, env=clean_env(self.home, **env), cwd=self.home, timeout=300)

    def ok(self, *args, **env):
        result = self.cli(*args, **env)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def site_packages(self):
        return Path(subprocess.run([str(self.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                   capture_output=True, text=True, check=True).stdout.strip())

    def launcher_view(self, **env):
        out = self.home.parent / "launcher-view.json"
        result = subprocess.run([str(self.python), "-c", LAUNCHER_VIEW, str(out)], capture_output=True, text=True,
                                env=clean_env(self.home, **env), cwd=self.home, timeout=120)
        assert result.returncode == 0, result.stderr
        return json.loads(out.read_text())


def snapshot(root):
    """{relative path: (bytes, mode)} of every file under ``root``, and the folders."""
    entries = {}
    for path in sorted(Path(root).rglob("*")):
        rel = path.relative_to(root).as_posix()
        entries[rel] = (path.read_bytes(), path.stat().st_mode) if path.is_file() else ("dir", path.stat().st_mode)
    return entries
