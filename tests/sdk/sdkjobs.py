"""The TAO SDK tests' host: the plugin's ``sdk`` command and NVIDIA's SDK, both in the host venv.

The host venv (``harness/testenv.py ensure_host()``, requirements-host.txt)
holds the TAO launcher nvidia-tao 6.26.3, NVIDIA's execution SDK
nvidia-tao-sdk 7.2.0 with the kubernetes and slurm extras, and the plugin
installed non-editably; no torch, no TAO. The command runs as
``tests/launcher``'s ``Host`` runs it (a child process, HOME a temporary
folder); each SDK job runs in ``sdk_driver.py``, a child process of the same
venv with a minimal environment, so nothing of this machine's Docker,
kubeconfig or Slurm settings steers it.
"""
import json
import os
import re
import subprocess
from pathlib import Path

from tests.launcher.hostenv import DERIVED, STOCK, Host  # noqa: F401 (re-exported)

DRIVER = Path(__file__).resolve().parent / "sdk_driver.py"
KEYS = ["image", "env_vars", "mounts"]
ENABLED = {"TAO_SPARSE4D_FIX": "1"}
COMMAND = "sparse4d train -e /specs/train.yaml"
MOUNT_POINT = "/opt/tao-sparse4d-fix"
SITE_PTH = "/usr/local/lib/python3.12/dist-packages/tao_sparse4d_fix_bundle.pth"
SLURM_BASE = "/lustre/fake/users/tester"

# Slurm: who logs in where. Nothing is reached: the driver answers every ssh/scp itself.
SLURM_ENV = {"SLURM_USER": "tester", "SLURM_HOSTNAME": "login.fake.invalid", "SLURM_ACCOUNT": "fakeaccount",
             "SLURM_BASE_RESULTS_DIR": SLURM_BASE}


class SdkHost(Host):
    """``tao-sparse4d-fix sdk`` and NVIDIA's ``create_job`` in the host venv, HOME=home."""

    def sdk_json(self, *args):
        """The command's --json output, checked to be exactly one JSON object of the three keys."""
        result = self.ok("sdk", "--json", *args)
        arguments = json.loads(result.stdout)
        assert list(arguments) == KEYS, result.stdout
        assert result.stdout == json.dumps(arguments) + "\n" and result.stderr == "", result
        return arguments

    def run_job(self, platform, env=None, **kwargs):
        """``<Platform>SDK().create_job(**kwargs)`` through ``sdk_driver.py``: the CompletedProcess and what it recorded."""
        work = self.home.parent
        request, out = work / f"{platform}-request.json", work / f"{platform}-out.json"
        request.write_text(json.dumps(kwargs))
        out.unlink(missing_ok=True)
        child_env = {"PATH": os.environ["PATH"], "HOME": str(self.home), "LANG": "C.UTF-8",
                     "TAO_SDK_STATE_DIR": str(self.home / ".tao_sdk_state"),
                     "SSH_KEY_PATH": str(self.home / ".ssh" / "absent")}  # no key of this machine's is touched
        child_env.update(env or {})
        result = subprocess.run([str(self.python), str(DRIVER), platform, str(request), str(out)], capture_output=True,
                                text=True, env=child_env, cwd=work, timeout=180)
        return result, (json.loads(out.read_text()) if result.returncode == 0 else None)

    def create_job(self, platform, env=None, **kwargs):
        result, recorded = self.run_job(platform, env, **kwargs)
        assert result.returncode == 0, result.stdout + result.stderr
        return recorded


def bundle_mounts(bundle, mount_point=MOUNT_POINT, site_pth=SITE_PTH):
    """The two mounts a bundle at ``bundle`` needs, as ``sdk`` prints them (spelled out here, not computed)."""
    return [{"source": str(bundle), "target": mount_point},
            {"source": f"{bundle}/tao_sparse4d_fix.pth", "target": site_pth}]


def srun_option(script, name):
    """The value of ``--<name>=`` on the batch script's srun line."""
    [line] = [line for line in script.splitlines() if " srun " in f" {line}"]
    match = re.search(rf"--{name}=(\S+)", line)
    assert match, line
    return match.group(1)
