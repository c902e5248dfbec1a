"""The FTMS tests' two machines: the host that runs ``tao-sparse4d-fix ftms``, and FTMS's service.

The command runs in the host venv (``harness/testenv.py ensure_host()``: the TAO
launcher nvidia-tao 6.26.3, the plugin installed non-editably, no torch), as
``tests/launcher``'s ``Host`` runs it. Each FTMS job runs in ``ftms_driver.py``,
a child process of the FTMS venv (``ensure_ftms()``) with one nvidia-tao-core
release on PYTHONPATH and a minimal environment: the service's own variables and
nothing of this machine's Docker or Kubernetes settings.
"""
import json
import os
import subprocess
from pathlib import Path

from harness import testenv
from tests.launcher.hostenv import DERIVED, Host

__all__ = ["BACKENDS", "DEPLOY", "DERIVED", "ENABLED", "FtmsService", "Host"]

DRIVER = Path(__file__).resolve().parent / "ftms_driver.py"
ENABLED = {"TAO_SPARSE4D_FIX": "1"}
DEPLOY = "nvcr.io/nvidia/tao/tao-toolkit:6.26.3-deploy"


# FTMS's backends: local-docker (its Docker Compose deployment), local-k8s (its Helm chart's default)
BACKENDS = ["local-docker", "local-k8s"]


class FtmsService:
    """FTMS of one nvidia-tao-core release on one backend, started with ``IMAGE_TAO_PYTORCH=image``."""

    def __init__(self, python, version, backend, image, work):
        self.python, self.version, self.backend, self.image, self.work = python, version, backend, image, work

    def call(self, mode, **request):
        self.work.mkdir(parents=True, exist_ok=True)
        request_path, out = self.work / f"{mode}-request.json", self.work / f"{mode}-out.json"
        request_path.write_text(json.dumps(request))
        out.unlink(missing_ok=True)
        env = {"PATH": os.environ["PATH"], "HOME": str(self.work), "LANG": "C.UTF-8",
               "PYTHONPATH": str(testenv.ftms_core_dir(self.version)), "PYTHONDONTWRITEBYTECODE": "1",
               "TAO_LOG_LEVEL": "WARNING", "IMAGE_TAO_PYTORCH": self.image, "IMAGE_TAO_DEPLOY": DEPLOY}
        result = subprocess.run([str(self.python), str(DRIVER), mode, str(request_path), str(out)],
                                capture_output=True, text=True, env=env, cwd=self.work, timeout=300)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return json.loads(out.read_text())

    def job(self, action, docker_env_vars, network="sparse4d"):
        """What FTMS started for one job of an experiment with these docker_env_vars: its one container."""
        recorded = self.call("job", backend=self.backend, network=network, action=action,
                             docker_env_vars=docker_env_vars)
        assert len(recorded["containers"]) == 1 and len(recorded["posts"]) == 1, recorded
        return recorded
