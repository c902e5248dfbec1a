"""One real ``create_job`` of NVIDIA's TAO SDK (nvidia-tao-sdk 7.2.0), with only its network boundary faked.

Run in the host venv (no torch, no TAO):

    python sdk_driver.py docker|kubernetes|slurm REQUEST.json OUT.json

REQUEST.json holds the keyword arguments for ``create_job``. The SDK class is
built and called exactly as a user would (``DockerSDK()``,
``KubernetesSDK()``, ``SlurmSDK()``); what is faked is what would leave the
machine:

* Docker: ``docker.from_env()`` returns a stand-in client (a daemon with the
  image present locally) that records what ``containers.run`` receives.
* Kubernetes: a kubeconfig for an unreachable API server, and urllib3's
  ``PoolManager.urlopen`` (the last step before a socket) answering as an API
  server would; every request is recorded with its JSON body.
* Slurm: ``subprocess.run`` as the handler calls it for ``ssh``/``scp``;
  remote commands are recorded and every uploaded file is kept by its remote path.

OUT.json gets what crossed the boundary. The SDK's state (``TAO_SDK_STATE_DIR``,
``~``) lives wherever the caller points HOME.
"""
import json
import os
import re
import shlex
import subprocess
import sys
import types
from unittest import mock

DAEMON_ID = "fake-daemon-0001"
CLUSTER_UID = "0f0f0f0f-1111-2222-3333-444444444444"
API_SERVER = "https://k8s.fake.invalid:6443"
SBATCH_JOB_ID = "4242"


def docker_job(kwargs):
    import docker
    from tao_sdk.platforms.docker import DockerSDK

    runs = []

    class Containers:
        def get(self, name):
            raise docker.errors.NotFound(f"No such container: {name}")

        def run(self, **run_kwargs):
            runs.append(run_kwargs)
            return types.SimpleNamespace(id="c0ffee0000", name=run_kwargs.get("name"), labels=run_kwargs.get("labels"))

    class Images:
        def get(self, name):
            return types.SimpleNamespace(tags=[name])  # present locally: DOCKER_PULL_POLICY=missing pulls nothing

        def pull(self, *args, **kwargs):
            raise AssertionError(f"unexpected pull {args} {kwargs}")

    class Client:
        containers, images = Containers(), Images()
        networks = types.SimpleNamespace(get=lambda name: types.SimpleNamespace(name=name))

        def ping(self):
            return True

        def info(self):
            return {"ID": DAEMON_ID, "SecurityOptions": []}

    with mock.patch.object(docker, "from_env", return_value=Client()) as from_env:
        sdk = DockerSDK(poll_interval=3600)
        job = sdk.create_job(**kwargs)
    sdk._monitor.stop()
    assert from_env.call_count == 1 and len(runs) == 1, (from_env.call_count, runs)
    run = dict(runs[0])
    # What docker-py makes of these for the Engine API (POST /containers/create): its own conversion.
    create_args = docker.models.containers._create_container_args(
        {k: v for k, v in run.items() if k != "detach"} | {"version": "1.41"})
    return {"job_id": job.id, "run": run, "engine_binds": create_args["host_config"].get("Binds"),
            "docker_py": docker.__version__}


def kubernetes_job(kwargs):
    import urllib3
    from urllib3.response import HTTPResponse

    home = os.path.expanduser("~")
    os.makedirs(os.path.join(home, ".kube"), exist_ok=True)
    with open(os.path.join(home, ".kube", "config"), "w") as handle:
        json.dump({  # kubeconfig is YAML; JSON is YAML
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": API_SERVER, "insecure-skip-tls-verify": True}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": "default"}}],
        }, handle)

    from tao_sdk.platforms.kubernetes import KubernetesSDK

    requests = []

    def answer(path, method, body):
        if method == "GET" and path == "/api/v1/":
            return 200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": []}
        if method == "GET" and path == "/api/v1/namespaces/kube-system":
            return 200, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system", "uid": CLUSTER_UID}}
        if method == "GET" and path == "/api/v1/nodes":
            nodes = [{"metadata": {"name": f"gpu-{i}"}, "status": {"allocatable": {"nvidia.com/gpu": "8"}}} for i in range(2)]
            return 200, {"apiVersion": "v1", "kind": "NodeList", "metadata": {}, "items": nodes}
        if method == "POST" and re.fullmatch(r"/api/v1/namespaces/[^/]+/services|/apis/batch/v1/namespaces/[^/]+/jobs", path):
            created = dict(body)
            created["metadata"] = dict(body["metadata"], uid=f"uid-{len(requests)}")
            return 201, created
        return 404, {"apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404}

    def urlopen(self, method, url, redirect=True, **kw):
        parsed = urllib3.util.parse_url(url)
        assert f"{parsed.scheme}://{parsed.host}:{parsed.port}" == API_SERVER, url
        raw = kw.get("body")
        body = json.loads(raw) if raw else None
        status, payload = answer(parsed.path, method, body)
        requests.append({"method": method, "path": parsed.path, "body": body, "status": status})
        return HTTPResponse(body=json.dumps(payload).encode(), status=status, reason="fake",
                            headers={"Content-Type": "application/json"}, preload_content=True)

    with mock.patch.object(urllib3.PoolManager, "urlopen", urlopen):
        sdk = KubernetesSDK(poll_interval=3600)
        job = sdk.create_job(**kwargs)
        sdk._monitor.stop()
    return {"job_id": job.id, "requests": requests}


def slurm_job(kwargs):
    from tao_sdk.platforms.slurm import SlurmSDK
    from tao_sdk.platforms.slurm import handler as slurm_handler

    commands, uploads = [], {}
    real_run = subprocess.run

    def run(cmd, *args, **kw):
        if not isinstance(cmd, list) or cmd[0] not in ("ssh", "scp"):
            return real_run(cmd, *args, **kw)
        if cmd[0] == "scp":
            local, remote = cmd[-2], cmd[-1].split(":", 1)[1]
            with open(local) as handle:
                uploads[remote] = handle.read()
            return subprocess.CompletedProcess(cmd, 0, "", "")
        remote = cmd[-1]
        commands.append(remote)
        stdout = ""
        if remote.startswith("scontrol show config"):
            stdout = "ClusterName = fakecluster\n"
        elif remote.startswith("sbatch "):
            stdout = f"Submitted batch job {SBATCH_JOB_ID}\n"
        elif remote.startswith("realpath -m -- "):
            stdout = shlex.split(remote)[-1] + "\n"  # the results root, already canonical
        elif "hsqs" in remote:  # the SQSH cache probe: a converted image is there
            stdout = "exists\n"
        return subprocess.CompletedProcess(cmd, 0, stdout, "")

    with mock.patch.object(slurm_handler.subprocess, "run", run):
        sdk = SlurmSDK(poll_interval=3600)
        job = sdk.create_job(**kwargs)
        sdk._monitor.stop()
    sbatch = [c for c in commands if c.startswith("sbatch ")]
    assert len(sbatch) == 1, commands
    script_path = sbatch[0].split()[-1].strip("'")
    return {"job_id": job.id, "commands": commands, "uploads": uploads, "sbatch": sbatch[0], "script": uploads[script_path]}


def main(platform, request_path, out_path):
    with open(request_path) as handle:
        kwargs = json.load(handle)
    result = {"docker": docker_job, "kubernetes": kubernetes_job, "slurm": slurm_job}[platform](kwargs)
    with open(out_path, "w") as handle:
        json.dump(result, handle, default=repr)


if __name__ == "__main__":
    main(*sys.argv[1:])
