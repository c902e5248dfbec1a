"""FTMS's own code starts sparse4d's jobs in the derived image, with the experiment's TAO_SPARSE4D_FIX.

Each job goes through nvidia-tao-core's workflow dispatch, ``ActionPipeline``
(image, spec, environment) and its Docker or Kubernetes handler, up to the
container it starts (Docker's ``containers.run``, the StatefulSet sent to the
Kubernetes API) and the job request it posts to it (``ftms_driver.py``; only
the database, the Docker client, the Kubernetes API server and the container's
REST API are faked). The
service runs with ``IMAGE_TAO_PYTORCH`` = the image ``tao-sparse4d-fix ftms``
names.
"""
import pytest

from ftmsjobs import DEPLOY, ENABLED, FtmsService
from harness import testenv

# sparse4d's actions that run TAO PyTorch, and the pipeline FTMS's network config picks for each
PYTORCH_JOBS = {"train": "TrainVal", "evaluate": "TrainVal", "inference": "TrainVal", "export": "TrainVal"}
FLASK = ["/bin/bash", "-c", "flask run --host 0.0.0.0 --port 8000"]


@pytest.mark.parametrize("action", sorted(PYTORCH_JOBS))
def test_pytorch_jobs_run_the_derived_image_with_the_switch(service, action):
    recorded = service.job(action, ENABLED)
    assert recorded["pipeline"] == PYTORCH_JOBS[action] and recorded["in_actions_pipe"] and recorded["in_actions"]
    [run], [post] = recorded["containers"], recorded["posts"]
    assert run["image"] == service.image
    assert run["command"] == FLASK  # the image's own FTMS server, which runs the job it is posted
    if service.backend == "local-k8s":  # the StatefulSet's pod gets the same, beside the multi-node variables
        assert run["environment"]["WORLD_SIZE"] == "1"
    assert {k: run["environment"][k] for k in ("ORCHESTRATION_API_NETWORK", "ORCHESTRATION_API_ACTION",
                                               "TAO_SPARSE4D_FIX")} == {
        "ORCHESTRATION_API_NETWORK": "sparse4d", "ORCHESTRATION_API_ACTION": action, "TAO_SPARSE4D_FIX": "1"}
    # the job request: the server puts docker_env_vars into os.environ before TAO's entrypoint starts
    # Docker: http://<container>:8000; Kubernetes: the StatefulSet's first pod by its service's name
    assert post["url"].startswith(f"http://{run['name']}") and post["url"].endswith(":8000/api/v1/internal/container_job")
    body = post["body"]
    assert (body["neural_network_name"], body["action_name"]) == ("sparse4d", action)
    assert body["docker_env_vars"]["TAO_SPARSE4D_FIX"] == "1"


def test_zero_reaches_the_job_for_a_stock_comparison(service):
    recorded = service.job("train", {"TAO_SPARSE4D_FIX": "0"})
    [run], [post] = recorded["containers"], recorded["posts"]
    assert run["image"] == service.image
    assert run["environment"]["TAO_SPARSE4D_FIX"] == "0" and post["body"]["docker_env_vars"]["TAO_SPARSE4D_FIX"] == "0"


def test_without_docker_env_vars_the_job_sets_no_switch(service):
    """Then the image's own ENV TAO_SPARSE4D_FIX=1 (Dockerfile) is what the job runs with."""
    [run] = service.job("train", None)["containers"]
    assert run["image"] == service.image
    assert "TAO_SPARSE4D_FIX" not in run["environment"]


def test_gen_trt_engine_goes_to_the_deploy_image_untouched(service):
    recorded = service.job("gen_trt_engine", ENABLED)
    # FTMS's sparse4d config lists no gen_trt_engine: the API refuses it for a sparse4d experiment and the
    # workflow has no pipeline for it; started anyway through ACTIONS_TO_FUNCTIONS["gen_trt_engine"]:
    assert not recorded["in_actions"] and not recorded["in_actions_pipe"]
    [run] = recorded["containers"]
    assert run["image"] == DEPLOY  # IMAGE_TAO_DEPLOY exactly, never the derived image
    # the experiment's docker_env_vars go to every job; the deploy image has no plugin to switch on
    assert run["environment"]["TAO_SPARSE4D_FIX"] == "1"


@pytest.mark.parametrize("network", ["dino", "rtdetr"])
def test_other_pytorch_networks_run_the_derived_image_too(service, network):
    """Why the derived image must leave every other network stock (tests/unit/test_other_networks.py)."""
    [run] = service.job("train", None, network=network)["containers"]
    assert run["image"] == service.image
    assert run["environment"]["ORCHESTRATION_API_NETWORK"] == network
    assert "TAO_SPARSE4D_FIX" not in run["environment"]


def test_the_rest_api_refuses_the_switch_in_docker_env_vars(api):
    """The experiment schemas (v1 ExperimentReq, v2 ExperimentJobReq) take only AllowedDockerEnvVariables."""
    refused = api.call("schemas", docker_env_vars=ENABLED)
    for schema in ("ExperimentReq", "ExperimentJobReq"):
        assert refused[schema] == {"error": {"docker_env_vars": {"TAO_SPARSE4D_FIX": {
            "key": ["Invalid enum member TAO_SPARSE4D_FIX"]}}}}
    accepted = api.call("schemas", docker_env_vars={"WANDB_API_KEY": "k"})
    assert accepted == {schema: {"loaded": {"WANDB_API_KEY": "k"}} for schema in ("ExperimentReq", "ExperimentJobReq")}


@pytest.mark.parametrize("version", testenv.FTMS_CORE)
def test_a_tag_holding_6_25_7_sends_other_networks_to_a_rewritten_image(ftms_python, tmp_path, version):
    """DOCKER_IMAGE_VERSION: FTMS replaces "6.25.7" in the image by a network's override ("6.0.0" for dino).

    sparse4d's pair is ("6.25.7", "6.25.7"), so it keeps the image; dino's job goes to a 6.0.0 tag of
    the derived name, which exists only if it is built too (and then without the job's ORCHESTRATION_* variables).
    """
    service = FtmsService(ftms_python, version, "local-k8s", "nvcr.io/nvidia/tao/tao-toolkit:6.25.7-pyt-sparse4d-fix",
                          tmp_path / "service")
    [sparse4d] = service.job("train", ENABLED)["containers"]
    assert sparse4d["image"] == "nvcr.io/nvidia/tao/tao-toolkit:6.25.7-pyt-sparse4d-fix"
    [dino] = service.job("train", None, network="dino")["containers"]
    assert dino["image"] == "nvcr.io/nvidia/tao/tao-toolkit:6.0.0-pyt-sparse4d-fix"
    assert "ORCHESTRATION_API_NETWORK" not in dino["environment"]
