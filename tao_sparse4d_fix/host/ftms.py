"""``tao-sparse4d-fix ftms``: what a TAO fine-tuning microservices (FTMS) deployment sets for the fix.

FTMS (``nvidia_tao_core.microservices``, read in nvidia-tao-core 6.26.3 and
7.3.0) starts every TAO PyTorch job of a network such as sparse4d in the image
its service's ``IMAGE_TAO_PYTORCH`` environment variable names
(``handlers/docker_images.py``), and copies the experiment's
``docker_env_vars`` into the job's environment (``handlers/actions.py``). So
the fix takes the derived image there (an admin, once) and
``TAO_SPARSE4D_FIX`` in the job's environment. The image and the variable are
the ones ``sdk`` names (one home for both); standard library only.
"""
import json
import sys

from tao_sparse4d_fix.host import launcher_config, sdk
from tao_sparse4d_fix.host.userfiles import MalformedFile

# FTMS's own names: the service's environment variable, the experiment's field.
SERVICE_VARIABLE = "IMAGE_TAO_PYTORCH"
EXPERIMENT_FIELD = "docker_env_vars"


def add_arguments(parser):
    parser.add_argument("--image", metavar="REGISTRY/REPOSITORY:TAG",
                        help="the derived image FTMS's jobs run (default: the one `tao-sparse4d-fix launcher` names); "
                             "push it where the cluster pulls from and name it here")
    parser.add_argument("--json", action="store_true",
                        help='print only {"IMAGE_TAO_PYTORCH": ..., "docker_env_vars": {...}}')


def run(args):
    try:
        values = settings(args.image)
    except (sdk.SdkError, launcher_config.LauncherMissing, MalformedFile, ValueError) as error:
        print(f"tao-sparse4d-fix ftms: error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(values) if args.json else _text(values))
    return 0


def settings(image=None):
    """{"IMAGE_TAO_PYTORCH": the derived image, "docker_env_vars": {"TAO_SPARSE4D_FIX": "1"}}."""
    arguments = sdk.job_arguments(image)
    return {SERVICE_VARIABLE: arguments["image"], EXPERIMENT_FIELD: arguments["env_vars"]}


def _text(values):
    image, env = values[SERVICE_VARIABLE], values[EXPERIMENT_FIELD]
    [(name, value)] = env.items()
    return "\n".join([
        "TAO's fine-tuning microservices (FTMS): two parts.",
        "",
        f"Admin, once: the service's {SERVICE_VARIABLE}, the image every TAO PyTorch job runs in:",
        "",
        f"    {SERVICE_VARIABLE}={image}",
        "",
        "  Helm: set it in the environment of the service's API and workflow containers (nvidia-tao-core",
        "  ships no chart and names no values key for it; the service reads only this variable).",
        "  Docker Compose: the same line under environment: of those services.",
        "  Restart the service after changing it (it is read when the service starts). It serves every",
        "  PyTorch network; the derived image leaves all but Sparse4D stock. gen_trt_engine jobs run",
        "  IMAGE_TAO_DEPLOY and dataset_convert IMAGE_TAO_DS: leave those as they are.",
        "",
        f"User, per experiment: {name} in the job's environment, from the experiment's {EXPERIMENT_FIELD}:",
        "",
        f"    {EXPERIMENT_FIELD}={json.dumps(env)}",
        "",
        f"  FTMS copies {EXPERIMENT_FIELD} into every job of the experiment, but its REST API (and so the TAO",
        f"  Client) accepts only the keys it lists (AllowedDockerEnvVariables) and refuses {name}",
        f"  (\"Invalid enum member {name}\", nvidia-tao-core 6.26.3 to 7.3.0), so the TAO Client call that",
        f"  would set it, tao sparse4d create-job --kind experiment ... --env {name}={value}, is refused.",
        f"  The derived image sets {name}={value} itself, so every sparse4d job in it runs the fix; to train",
        f"  stock for comparison, run it with a stock {SERVICE_VARIABLE}.",
        "",
        "Check a job: its log holds the line \"tao-sparse4d-fix: <version> on nvidia-tao-pytorch ...\" and the",
        "fix's status table (printed when the criterion is built); check the image before a long run with",
        f"    docker run --rm {image} python -m tao_sparse4d_fix doctor",
    ])
