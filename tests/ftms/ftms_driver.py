"""One real job of TAO's fine-tuning microservices (FTMS), with only its boundaries faked.

Run in the FTMS venv (``harness/testenv.py ensure_ftms()``), nvidia-tao-core on PYTHONPATH:

    python ftms_driver.py job REQUEST.json OUT.json      # start one job as FTMS's workflow does
    python ftms_driver.py schemas REQUEST.json OUT.json  # the REST API's experiment schemas on docker_env_vars

``job``: REQUEST.json holds ``backend`` (``local-docker``, FTMS's Docker Compose
deployment, or ``local-k8s``, its Helm deployment), ``network``, ``action`` and
the experiment's ``docker_env_vars`` (or null); the service's environment
(``IMAGE_TAO_PYTORCH``, ``IMAGE_TAO_DEPLOY``) is the caller's. What runs is FTMS's own
code: the workflow's choice of pipeline (the network config's
``actions_pipe``), ``ActionPipeline.__init__`` (the image) and
``ActionPipeline.run`` (the spec, the job's environment, the executor, the
Docker or Kubernetes handler that starts the container). What is faked is what
leaves the process:

* the database: FTMS's own test mode (``TAO_TEST_MODE``: its mongomock client),
  holding a workspace and the experiment as the API would store them;
* the Docker client (``docker.from_env``): a daemon with both images present
  locally that records what ``containers.run`` receives;
* the Kubernetes API server: urllib3's ``PoolManager.urlopen`` (the last step
  before a socket) answering as one would, ready at once; every request is
  recorded with its JSON body (the StatefulSet FTMS creates among them);
* the started container's REST API (``requests.get``/``requests.post`` to
  ``http://<job id>:8000``): healthy, and it records the job request FTMS posts.

The driver stops once the job request reached the container (FTMS then only
polls its status), or when the pipeline gives up; OUT.json gets what crossed the
boundaries and, if no job started, the job's status as FTMS recorded it.
"""
import json
import os
import re
import sys
import threading
import time
import types
import uuid

USER, ORG = "00000000-0000-4000-8000-000000000001", "nvidia"
API_SERVER = "https://k8s.fake.invalid:6443"


def fake_docker(runs):
    """A Docker daemon with both images present; ``containers.run`` is recorded in ``runs``."""
    import docker

    class Container:
        def __init__(self, name):
            self.name, self.status = name, "running"

        def reload(self):
            pass

        def stop(self, timeout=None):
            self.status = "exited"

    class Containers:
        def get(self, name):
            if any(run["name"] == name for run in runs):
                return Container(name)
            raise docker.errors.NotFound(f"No such container: {name}")

        def run(self, **kwargs):
            runs.append(kwargs)
            return Container(kwargs["name"])

    local = [os.environ["IMAGE_TAO_PYTORCH"], os.environ["IMAGE_TAO_DEPLOY"]]

    class Client:
        containers = Containers()
        images = types.SimpleNamespace(list=lambda: [types.SimpleNamespace(attrs={"Id": "sha256:0"})])
        api = types.SimpleNamespace(inspect_image=lambda image_id: {"RepoTags": local},
                                    pull=lambda *a, **k: (_ for _ in ()).throw(AssertionError(f"pull {a} {k}")))

    docker.from_env = lambda *args, **kwargs: Client()
    os.environ["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"  # the handler builds its client only when set


def fake_kubernetes(calls):
    """An API server that creates what it is sent and has it ready at once; every request goes to ``calls``."""
    import urllib3
    from urllib3.response import HTTPResponse

    stored = {}
    home = os.path.expanduser("~")
    os.makedirs(os.path.join(home, ".kube"), exist_ok=True)
    with open(os.path.join(home, ".kube", "config"), "w") as handle:
        json.dump({  # kubeconfig is YAML; JSON is YAML
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": API_SERVER, "insecure-skip-tls-verify": True}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": "default"}}],
        }, handle)
    # FTMS's own switch from the in-cluster service account to ~/.kube/config (the pod's token file is absent here)
    os.environ["DEV_MODE"] = "true"

    def answer(method, path, body):
        if method == "GET" and path == "/api/v1/nodes":
            node = {"metadata": {"name": "gpu-node-0", "labels": {"accelerator": "h100"}}}
            return 200, {"apiVersion": "v1", "kind": "NodeList", "metadata": {}, "items": [node]}
        if method == "GET" and re.fullmatch(r"/apis/apps/v1/namespaces/[^/]+/deployments/[^/]+", path):
            name = path.rsplit("/", 1)[1]  # the workflow's own Deployment: the owner of what FTMS creates
            labels = {"app": "workflow"}
            return 200, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "uid": "uid-workflow"},
                         "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "workflow", "image": "workflow"}]}}}}
        if method == "POST" and re.fullmatch(r"/api/v1/namespaces/[^/]+/services|/apis/apps/v1/namespaces/[^/]+/statefulsets", path):
            created = dict(body, metadata=dict(body["metadata"], uid=f"uid-{len(calls)}"))
            stored[f"{path}/{body['metadata']['name']}"] = created
            return 201, created
        if method == "GET" and path in stored:
            ready = dict(stored[path])
            replicas = ready.get("spec", {}).get("replicas", 1)
            ready["status"] = {"replicas": replicas, "readyReplicas": replicas}
            return 200, ready
        if method == "GET" and re.fullmatch(r"/api/v1/namespaces/[^/]+/pods", path):
            return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": []}
        return 404, {"apiVersion": "v1", "kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404}

    def urlopen(self, method, url, redirect=True, **kwargs):
        parsed = urllib3.util.parse_url(url)
        assert f"{parsed.scheme}://{parsed.host}:{parsed.port}" == API_SERVER, url
        path = parsed.path
        body = json.loads(kwargs["body"]) if kwargs.get("body") else None
        status, payload = answer(method, path, body)
        calls.append({"method": method, "path": path, "body": body, "status": status})
        return HTTPResponse(body=json.dumps(payload).encode(), status=status, reason="fake",
                            headers={"Content-Type": "application/json"}, preload_content=True)

    urllib3.PoolManager.urlopen = urlopen


def started_containers(runs, calls):
    """What each backend was asked to start, in one shape: image, environment, command, name."""
    containers = [{key: run[key] for key in ("image", "environment", "command", "name")} for run in runs]
    for call in calls:
        if call["method"] == "POST" and call["path"].endswith("/statefulsets"):
            [container] = call["body"]["spec"]["template"]["spec"]["containers"]
            containers.append({"image": container["image"], "name": call["body"]["metadata"]["name"],
                               "environment": {e["name"]: e.get("value") for e in container.get("env", [])},
                               "command": container["command"] + container.get("args", [])})
    return containers


def job(request):
    import requests

    runs, calls, posts, started = [], [], [], threading.Event()
    os.environ["BACKEND"] = request["backend"]
    fake_docker(runs)
    if request["backend"] == "local-k8s":
        fake_kubernetes(calls)

    def response(body):
        return types.SimpleNamespace(status_code=200, ok=True, text=json.dumps(body), json=lambda: body)

    def get(url, *args, **kwargs):  # the container's liveness (and, later, status) endpoint
        return response({"status": "Running"})

    def post(url, data=None, *args, **kwargs):  # the job request FTMS sends the started container
        posts.append({"url": url, "body": json.loads(data)})
        started.set()
        return response({"job_id": posts[-1]["body"].get("job_id")})

    requests.get, requests.post = get, post

    from nvidia_tao_core.microservices.handlers.actions import ACTIONS_TO_FUNCTIONS
    from nvidia_tao_core.microservices.utils.core_utils import read_network_config
    from nvidia_tao_core.microservices.utils.handler_utils import JobContext
    from nvidia_tao_core.microservices.utils.stateless_handler_utils import (
        get_handler_job_metadata, write_handler_metadata)

    network, action = request["network"], request["action"]
    api_params = read_network_config(network)["api_params"]
    workspace, experiment, job_id = (str(uuid.uuid4()) for _ in range(3))
    write_handler_metadata(workspace, {"id": workspace, "user_id": USER, "org_name": ORG, "name": "workspace",
                                       "cloud_type": "aws", "cloud_specific_details": {}}, "workspaces")
    metadata = {"id": experiment, "user_id": USER, "org_name": ORG, "name": "experiment", "network_arch": network,
                "workspace": workspace, "actions": api_params["actions"], "train_datasets": [],
                "base_experiment_ids": [], "checkpoint_epoch_number": {}}
    if request["docker_env_vars"] is not None:
        metadata["docker_env_vars"] = request["docker_env_vars"]
    write_handler_metadata(experiment, metadata, "experiments")

    # the workflow's dispatch (utils/job_utils/workflow.py); an action the network's config has no
    # pipeline for is started with ACTIONS_TO_FUNCTIONS' own entry of that name, and reported as such
    pipe = api_params["actions_pipe"].get(action)
    context = JobContext(job_id, None, network, action, experiment, USER, ORG, "experiment", specs={}, num_gpu=0)
    pipeline = ACTIONS_TO_FUNCTIONS[pipe or action](context)
    thread = threading.Thread(target=pipeline.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while thread.is_alive() and not started.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    out = {"pipeline": type(pipeline).__name__, "in_actions_pipe": pipe is not None,
           "in_actions": action in api_params["actions"],
           "containers": started_containers(runs, calls), "posts": posts,
           "kubernetes": [{k: c[k] for k in ("method", "path", "status")} for c in calls]}
    if not started.is_set():
        out["job"] = json.loads(json.dumps(get_handler_job_metadata(job_id), default=str))
    return out


def schemas(request):
    """What the REST API's experiment schemas (v1 ExperimentReq, v2 ExperimentJobReq) make of docker_env_vars."""
    import marshmallow
    from nvidia_tao_core.microservices.blueprints.v1.schemas import ExperimentReq
    from nvidia_tao_core.microservices.blueprints.v2.schemas import ExperimentJobReq

    out = {}
    for schema in (ExperimentReq, ExperimentJobReq):
        try:
            loaded = schema().load({"docker_env_vars": request["docker_env_vars"]}, partial=True)
            out[schema.__name__] = {"loaded": {getattr(k, "value", k): v for k, v in loaded["docker_env_vars"].items()}}
        except marshmallow.ValidationError as error:
            out[schema.__name__] = {"error": json.loads(json.dumps(error.messages))}
    return out


def main():
    mode, request_path, out_path = sys.argv[1:]
    os.environ["TAO_TEST_MODE"] = "true"  # FTMS's own switch to its mongomock database
    os.environ.setdefault("TAO_ROOT", os.path.join(os.getcwd(), "tao-root", ""))  # FTMS's files (logs, jobs)
    with open(request_path) as handle:
        request = json.load(handle)
    out = {"job": job, "schemas": schemas}[mode](request)
    with open(out_path, "w") as handle:
        json.dump(out, handle)
    sys.stdout.flush()
    os._exit(0)  # the pipeline's thread would go on polling the job's status


if __name__ == "__main__":
    main()
