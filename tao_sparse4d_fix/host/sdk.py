"""``tao-sparse4d-fix sdk``: what to pass to ``create_job`` of NVIDIA's TAO SDK so the job runs the fix.

NVIDIA's execution SDK (PyPI ``nvidia-tao-sdk``) starts a job with
``create_job(image=..., command=..., env_vars=..., ...)``; ``DockerSDK`` and
``SlurmSDK`` also take ``mounts``, ``KubernetesSDK`` does not. This prints the
three values (``image``, ``env_vars``, ``mounts``) and imports neither the SDK
nor torch nor TAO nor the launcher: standard library only.

``image`` is the derived image as ``tao-sparse4d-fix launcher`` names it, or
with ``--bundle`` the launcher's stock sparse4d image (the bundle is mounted
into it); both come from the installed launcher's packaged map, and ``--image``
overrides either.
"""
import json
import os
import sys

from tao_sparse4d_fix import switches
from tao_sparse4d_fix.errors import PluginError
from tao_sparse4d_fix.host import bundle, launcher_config
from tao_sparse4d_fix.host.userfiles import MalformedFile, read_json_object

# The SDK's own names for what a job needs from us (DockerSDK/SlurmSDK/KubernetesSDK.create_job).
KEYS = ("image", "env_vars", "mounts")


class SdkError(PluginError, RuntimeError):
    """The arguments cannot be given as asked."""


def add_arguments(parser):
    parser.add_argument("--image", metavar="REGISTRY/REPOSITORY:TAG",
                        help="the image the job runs (default: the derived image `tao-sparse4d-fix launcher` names; "
                             "with --bundle, the launcher's stock sparse4d image)")
    parser.add_argument("--bundle", metavar="DIR",
                        help="a folder built by `tao-sparse4d-fix bundle DIR`: mount it into the stock image")
    parser.add_argument("--json", action="store_true",
                        help='print only {"image": ..., "env_vars": {...}, "mounts": [...]}')


def run(args):
    try:
        arguments = job_arguments(args.image, args.bundle)
    except (SdkError, launcher_config.LauncherMissing, MalformedFile, ValueError) as error:
        print(f"tao-sparse4d-fix sdk: error: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(arguments))
    else:
        print(_text(arguments, args.bundle is not None, args.image is not None))
    return 0


def job_arguments(image=None, bundle_dir=None):
    """{"image", "env_vars", "mounts"} for ``create_job``, in that order."""
    entries = _bundle_entries(bundle_dir) if bundle_dir is not None else []
    return {
        "image": _image(image, bundled=bundle_dir is not None).name,
        "env_vars": {switches.ENABLE: "1"},
        "mounts": sdk_mounts(entries),
    }


def sdk_mounts(entries):
    """The launcher's ``Mounts`` entries (``source``, ``destination``) as the SDK's mounts.

    ``source``/``target`` is the one spelling both SDK handlers read: Docker's
    ``_build_volumes`` takes ``source`` (or ``host_path``) and ``target`` (or
    ``container_path``); Slurm's ``_container_mounts_from_kwargs`` takes only
    ``source``/``from_path``/``src`` and ``target``/``mount_path``/``path``, and
    silently drops a ``host_path``/``container_path`` entry.
    """
    return [{"source": entry["source"], "target": entry["destination"]} for entry in entries]


def _image(text, bundled):
    if text is not None:
        return launcher_config.parse_image(text)
    try:
        version, packaged_path = launcher_config.installed_launcher()
    except launcher_config.LauncherMissing:
        what = ("the stock TAO image the bundle is mounted into, e.g. nvcr.io/nvidia/tao/tao-toolkit:6.26.3-pyt"
                if bundled else "the derived image you built, e.g. nvcr.io/nvidia/tao/tao-toolkit:6.26.3-pyt"
                                f"{launcher_config.DERIVED_SUFFIX}")
        raise SdkError(f"the TAO launcher (PyPI package {launcher_config.DISTRIBUTION}), whose map names the image, "
                       f"is not installed in this Python ({os.path.realpath(sys.executable)}): pass "
                       f"--image REGISTRY/REPOSITORY:TAG, {what}") from None
    stock = launcher_config.sparse4d_image(launcher_config.load(packaged_path))
    if stock is None:
        raise SdkError(f"{launcher_config.DISTRIBUTION} {version}'s map ({packaged_path}) has no task "
                       f"'{launcher_config.TASK}' in task group '{launcher_config.TASK_GROUP}': pass --image")
    return stock if bundled else stock.derived()


def _bundle_entries(directory):
    """The bundle's two mounts, from where its marker says it is mounted."""
    directory = os.path.abspath(directory)
    if not os.path.isdir(directory):
        raise SdkError(f"--bundle {directory} is not a folder; build one with: tao-sparse4d-fix bundle {directory}")
    marker_path = os.path.join(directory, bundle.MARKER)
    marker = read_json_object(marker_path)
    if marker is None:
        raise SdkError(f"--bundle {directory} is not a bundle (it has no {bundle.MARKER}); build one with: "
                       f"tao-sparse4d-fix bundle {directory}")
    missing = [key for key in ("mount_point", "site_packages") if not isinstance(marker.get(key), str)]
    if missing:
        raise MalformedFile(marker_path, f"has no {' or '.join(map(repr, missing))} (rebuild the bundle)")
    return bundle.mount_entries(directory, marker["site_packages"], marker["mount_point"])


def _text(arguments, bundled, explicit_image):
    lines = ["Pass these to create_job(...) of NVIDIA's TAO SDK (nvidia-tao-sdk), next to your command=...:", ""]
    lines += [f"    {key}={arguments[key]!r}," for key in KEYS]
    lines.append("")
    if bundled:
        lines += [
            "image: " + ("the image you named; the bundle is mounted into it."
                         if explicit_image else "the launcher's stock sparse4d image; the bundle mounted into it brings the fix."),
            "DockerSDK and SlurmSDK take mounts; the bundle folder must exist where the container runs (on Slurm,",
            "on a file system the compute nodes see). On Slurm, mounts replaces SLURM_CONTAINER_MOUNTS (default",
            "/lustre): list those mounts too.",
            "KubernetesSDK: create_job has no mounts, so the bundle cannot reach the pod: there it must be the",
            "derived image (run `tao-sparse4d-fix sdk` without --bundle). This stock image with TAO_SPARSE4D_FIX=1",
            "alone runs stock TAO.",
        ]
    else:
        lines += [
            "image: " + ("the image you named; it must have the fix installed (the derived image)."
                         if explicit_image else "the derived image, as `tao-sparse4d-fix launcher` names it (build it "
                                                "with the repository's Dockerfile)."),
            "DockerSDK, SlurmSDK and KubernetesSDK all take image and env_vars; mounts is empty (KubernetesSDK's",
            "create_job has no mounts: leave it out there). Cluster nodes pull the image: push it to a registry",
            "they can reach and pass that name with --image.",
        ]
    return "\n".join(lines)
