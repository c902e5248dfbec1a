"""What ``tao-sparse4d-fix sdk --json`` prints, passed to NVIDIA's real ``create_job``, reaches the job.

Each test runs the command in the host venv, parses its JSON and hands
``image``, ``env_vars`` and ``mounts`` to ``DockerSDK``/``KubernetesSDK``/
``SlurmSDK.create_job`` of nvidia-tao-sdk 7.2.0 (sdk_driver.py): the SDK's
own code builds the container request, the Job manifest or the batch script;
only what would leave the machine is faked and recorded.
"""
import pytest

from sdkjobs import COMMAND, DERIVED, ENABLED, MOUNT_POINT, SITE_PTH, SLURM_BASE, SLURM_ENV, STOCK, srun_option


# --- Docker -------------------------------------------------------------------------------------------------------

def test_docker_runs_the_derived_image_with_the_fix_on(host):
    arguments = host.sdk_json()
    run = host.create_job("docker", **arguments, command=COMMAND, gpu_count=1)["run"]
    assert run["image"] == DERIVED
    assert run["environment"]["TAO_SPARSE4D_FIX"] == "1"
    assert run["command"] == ["/bin/bash", "-c", COMMAND]
    assert run["volumes"] is None  # mounts=[]: no bind mount at all


def test_docker_mounts_the_bundle_into_the_stock_image(host, bundle):
    arguments = host.sdk_json("--bundle", str(bundle))
    recorded = host.create_job("docker", **arguments, command=COMMAND, gpu_count=1)
    run = recorded["run"]
    assert run["image"] == STOCK
    assert run["environment"]["TAO_SPARSE4D_FIX"] == "1"
    assert run["volumes"] == {str(bundle): {"bind": MOUNT_POINT, "mode": "rw"},
                              f"{bundle}/tao_sparse4d_fix.pth": {"bind": SITE_PTH, "mode": "rw"}}
    # docker-py's own conversion for the Engine API: host path -> container path
    assert recorded["engine_binds"] == [f"{bundle}:{MOUNT_POINT}:rw", f"{bundle}/tao_sparse4d_fix.pth:{SITE_PTH}:rw"]


# --- Kubernetes ---------------------------------------------------------------------------------------------------

def _container(job):
    [container] = job["spec"]["template"]["spec"]["containers"]
    return container


def test_kubernetes_single_node_job_runs_the_derived_image_with_the_fix_on(host):
    arguments = host.sdk_json()
    assert arguments["mounts"] == []  # KubernetesSDK.create_job has no mounts parameter
    requests = host.create_job("kubernetes", image=arguments["image"], env_vars=arguments["env_vars"],
                               command=COMMAND, gpu_count=1)["requests"]
    posts = [r for r in requests if r["method"] == "POST"]
    assert [r["path"] for r in posts] == ["/apis/batch/v1/namespaces/default/jobs"]  # no Service for one node
    job = posts[0]["body"]
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    assert "completionMode" not in job["spec"] and "parallelism" not in job["spec"]
    container = _container(job)
    assert container["image"] == DERIVED
    assert {"name": "TAO_SPARSE4D_FIX", "value": "1"} in container["env"]
    assert container["command"] == ["/bin/bash", "-c", COMMAND]
    assert container["resources"] == {"limits": {"nvidia.com/gpu": "1"}}


def test_kubernetes_two_nodes_is_an_indexed_job_with_a_headless_service(host):
    arguments = host.sdk_json()
    requests = host.create_job("kubernetes", image=arguments["image"], env_vars=arguments["env_vars"],
                               command=COMMAND, gpu_count=8, num_nodes=2)["requests"]
    posts = [r for r in requests if r["method"] == "POST"]
    assert [r["path"] for r in posts] == ["/api/v1/namespaces/default/services",  # DNS first, then the pods
                                          "/apis/batch/v1/namespaces/default/jobs"]
    service, job = posts[0]["body"], posts[1]["body"]
    name = job["metadata"]["name"]
    assert service["metadata"]["name"] == name
    assert service["spec"] == {"clusterIP": "None", "selector": {"job-name": name}, "publishNotReadyAddresses": True}
    assert (job["spec"]["completionMode"], job["spec"]["completions"], job["spec"]["parallelism"]) == ("Indexed", 2, 2)
    assert job["spec"]["template"]["spec"]["subdomain"] == name
    container = _container(job)
    assert container["image"] == DERIVED
    assert {"name": "TAO_SPARSE4D_FIX", "value": "1"} in container["env"]
    script = container["command"][2]
    for line in ("export WORLD_SIZE=2", "export NUM_GPU_PER_NODE=8", "export NODE_RANK=${JOB_COMPLETION_INDEX:-0}",
                 "export MASTER_PORT=29500", f"export MASTER_ADDR={name}-0.{name}"):
        assert line in script.splitlines()
    assert script.rstrip().endswith(COMMAND)  # TAO's command runs after the exports, in the same shell


def test_kubernetes_create_job_refuses_the_bundles_mounts(host, bundle):
    arguments = host.sdk_json("--bundle", str(bundle))
    result, _ = host.run_job("kubernetes", **arguments, command=COMMAND, gpu_count=1)
    assert result.returncode != 0
    assert "create_job() got an unexpected keyword argument 'mounts'" in result.stderr


# --- Slurm --------------------------------------------------------------------------------------------------------

def test_slurm_runs_the_derived_image_with_the_fix_on(host):
    arguments = host.sdk_json()
    recorded = host.create_job("slurm", env=dict(SLURM_ENV, SLURM_USE_SQSH="0"), **arguments, command=COMMAND,
                               gpu_count=1)
    script = recorded["script"]
    assert srun_option(script, "container-image") == DERIVED.replace("/", "#", 1)  # Pyxis: registry#repository:tag
    assert srun_option(script, "container-mounts") == "/lustre"  # mounts=[] keeps the handler's default
    assert "export TAO_SPARSE4D_FIX='1'" in script.splitlines()
    assert "TAO_SPARSE4D_FIX" in srun_option(script, "container-env").split(",")  # passed into the container
    assert any(upload.splitlines()[-1:] == [COMMAND] for upload in recorded["uploads"].values())  # the entrypoint
    assert recorded["sbatch"].startswith("sbatch --export=ALL ")


def test_slurm_two_nodes_mount_the_bundle_into_the_stock_image(host, bundle):
    arguments = host.sdk_json("--bundle", str(bundle))
    # the recipe: mounts replaces SLURM_CONTAINER_MOUNTS, so the cluster's own mount goes in front
    mounts = [{"source": "/lustre", "target": "/lustre"}, *arguments["mounts"]]
    recorded = host.create_job("slurm", env=SLURM_ENV, image=arguments["image"], env_vars=arguments["env_vars"],
                               mounts=mounts, command=COMMAND, gpu_count=8, num_nodes=2)
    script = recorded["script"]
    # by default the SDK runs a cached SQSH conversion of the image it was given
    assert srun_option(script, "container-image") == f"{SLURM_BASE}/nvcr.io_nvidia_tao_tao-toolkit_6.26.3-pyt.sqsh"
    assert srun_option(script, "container-mounts") == (
        f"/lustre:/lustre,{bundle}:{MOUNT_POINT},{bundle}/tao_sparse4d_fix.pth:{SITE_PTH}")
    assert "export TAO_SPARSE4D_FIX='1'" in script.splitlines()
    passed = srun_option(script, "container-env").split(",")
    assert {"TAO_SPARSE4D_FIX", "NODE_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "NUM_GPU_PER_NODE"} <= set(passed)
    assert "#SBATCH --nodes=2" in script.splitlines()
    assert "export NODE_RANK=$SLURM_NODEID" in script.splitlines()
    assert "export NODE_RANK=${SLURM_NODEID:?};" in script  # re-derived per node inside the step


@pytest.mark.parametrize("spelling", ["as printed", "host_path/container_path"])
def test_slurm_mounts_replace_the_default_and_need_source_and_target(host, bundle, spelling):
    mounts = host.sdk_json("--bundle", str(bundle))["mounts"]
    if spelling != "as printed":
        mounts = [{"host_path": m["source"], "container_path": m["target"]} for m in mounts]
    script = host.create_job("slurm", env=dict(SLURM_ENV, SLURM_USE_SQSH="0"), image=STOCK, env_vars=ENABLED,
                             mounts=mounts, command=COMMAND, gpu_count=1)["script"]
    expected = (f"{bundle}:{MOUNT_POINT},{bundle}/tao_sparse4d_fix.pth:{SITE_PTH}" if spelling == "as printed"
                else "/lustre")  # Slurm's handler reads no host_path/container_path: the bundle would be dropped
    assert srun_option(script, "container-mounts") == expected
