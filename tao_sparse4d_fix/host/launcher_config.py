"""The TAO launcher's task-to-image map (``nvidia-tao``, format 3.0), read and remapped as data.

The launcher (``tao model sparse4d ...``) takes this map from ``~/.tao/config.json``
when that file exists, else from the ``nvidia_tao_cli/config/config.json`` it
ships; within a task group a task runs in ``{docker_registry}/{image}:{tag}``
of the last entry that lists it. Nothing here imports the launcher (it
imports docker): its packaged map is found through its installed metadata.
"""
import copy
import os
import re
import sys
from dataclasses import dataclass
from importlib import metadata

from tao_sparse4d_fix.errors import CommandError
from tao_sparse4d_fix.host.userfiles import MalformedFile, read_json_object

DISTRIBUTION = "nvidia-tao"
PACKAGED_CONFIG = "nvidia_tao_cli/config/config.json"
OVERRIDE_CONFIG = "~/.tao/config.json"
TASK_GROUP = "model"
TASK = "sparse4d"
DERIVED_SUFFIX = "-sparse4d-fix"
FORMAT_VERSION = 3.0


class LauncherMissing(CommandError):
    """The TAO launcher is not installed in this Python, so its map cannot be read."""


class BadImage(CommandError, ValueError):
    """An image name the launcher cannot express, or cannot add to its map (a ValueError for ``sdk``)."""


@dataclass(frozen=True)
class Image:
    registry: str
    repository: str
    tag: str

    @property
    def name(self):
        """The name the launcher composes and looks for among local images' RepoTags."""
        return f"{self.registry}/{self.repository}:{self.tag}"

    def derived(self):
        return Image(self.registry, self.repository, self.tag + DERIVED_SUFFIX)


# Docker's reference grammar, reduced to what the launcher can express: a
# registry host (with a dot or a port, or localhost), a path, and a tag.
_HOST = r"(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|[A-Za-z0-9.-]+:[0-9]+)(?::[0-9]+)?"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_IMAGE = re.compile(rf"({_HOST})/({_PATH}):({_TAG})")


def parse_image(text):
    """``REGISTRY/REPOSITORY:TAG`` as an ``Image``; a clear ValueError otherwise."""
    match = _IMAGE.fullmatch(text)
    if not match:
        raise BadImage(
            f"--image {text!r} is not REGISTRY/REPOSITORY:TAG with an explicit registry host, "
            "e.g. nvcr.io/nvidia/tao/tao-toolkit:6.26.3-pyt-sparse4d-fix (the launcher composes "
            "'{docker_registry}/{image}:{tag}' and needs all three; no digests)"
        )
    return Image(*match.groups())


def override_path():
    return os.path.expanduser(OVERRIDE_CONFIG)


def installed_launcher():
    """(version, path of its packaged config.json) of the TAO launcher in this Python."""
    try:
        distribution = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise LauncherMissing(
            "the TAO launcher (PyPI package nvidia-tao) is not installed in this Python "
            f"({os.path.realpath(sys.executable)}). Run this command with the Python that runs "
            "`tao` (pip install tao-sparse4d-fix there), or install the launcher: pip install nvidia-tao"
        ) from None
    path = distribution.locate_file(PACKAGED_CONFIG)
    if not os.path.isfile(path):
        raise LauncherMissing(f"nvidia-tao {distribution.version} is installed but ships no {PACKAGED_CONFIG} ({path})")
    return distribution.version, str(path)


def load(path):
    """Read and check a launcher config; MalformedFile names what is wrong."""
    data = read_json_object(path)
    if data is None:
        return None
    check(data, path)
    return data


def check(data, path):
    if "format_version" not in data:
        raise MalformedFile(path, "has no 'format_version' (the launcher itself refuses such a file)")
    if data["format_version"] != FORMAT_VERSION:
        raise MalformedFile(
            path, f"has format_version {data['format_version']!r}; tao-sparse4d-fix edits format 3.0 (what "
            "nvidia-tao 6.26.3 ships); run with --refresh to rebuild it from the installed launcher's map"
        )
    groups = data.get("task_group")
    if not isinstance(groups, dict):
        raise MalformedFile(path, "'task_group' is missing or not an object")
    for group, group_data in groups.items():
        dockers = group_data.get("dockers") if isinstance(group_data, dict) else None
        if not isinstance(dockers, dict):
            raise MalformedFile(path, f"task_group.{group}.dockers is missing or not an object")
        for image, tags in dockers.items():
            if not isinstance(tags, dict):
                raise MalformedFile(path, f"task_group.{group}.dockers[{image!r}] is not an object of tags")
            for tag, entry in tags.items():
                where = f"task_group.{group}.dockers[{image!r}][{tag!r}]"
                if not isinstance(entry, dict) or not isinstance(entry.get("docker_registry"), str):
                    raise MalformedFile(path, f"{where} has no 'docker_registry' string")
                if not isinstance(entry.get("tasks"), list) or not all(isinstance(t, str) for t in entry["tasks"]):
                    raise MalformedFile(path, f"{where} has no 'tasks' list of names")


def task_images(data):
    """{(group, task): Image} as the launcher resolves them (the last entry listing a task wins)."""
    images = {}
    for group, group_data in data["task_group"].items():
        for repository, tags in group_data["dockers"].items():
            for tag, entry in tags.items():
                for task in entry["tasks"]:
                    images[(group, task)] = Image(entry["docker_registry"], repository, tag)
    return images


def sparse4d_image(data):
    return task_images(data).get((TASK_GROUP, TASK))


def differences(override, packaged):
    """Tasks other than sparse4d that ``override`` maps differently from ``packaged``: [(task, override's, packaged's)]."""
    mine, theirs = task_images(override), task_images(packaged)
    rows = []
    for key in sorted(set(mine) | set(theirs)):
        if key == (TASK_GROUP, TASK) or mine.get(key) == theirs.get(key):
            continue
        rows.append((f"{key[0]} {key[1]}", mine.get(key), theirs.get(key)))
    return rows


def remap(data, image):
    """A copy of ``data`` in which model ``sparse4d``, and nothing else, runs in ``image``."""
    result = copy.deepcopy(data)
    dockers = result["task_group"].setdefault(TASK_GROUP, {"dockers": {}})["dockers"]
    target = dockers.get(image.repository, {}).get(image.tag)
    if target is not None and target["docker_registry"] != image.registry:
        raise BadImage(
            f"{image.repository}:{image.tag} is already mapped under registry {target['docker_registry']!r} for "
            f"{', '.join(target['tasks'])}; the launcher keeps one registry per tag, so {image.name} cannot be added"
        )
    for repository in list(dockers):
        for tag in list(dockers[repository]):
            entry = dockers[repository][tag]
            if entry is not target and TASK in entry["tasks"]:
                entry["tasks"] = [task for task in entry["tasks"] if task != TASK]
                if not entry["tasks"]:
                    del dockers[repository][tag]
        if not dockers[repository]:
            del dockers[repository]
    if target is None:
        dockers.setdefault(image.repository, {})[image.tag] = {"docker_registry": image.registry, "tasks": [TASK]}
    elif TASK not in target["tasks"]:
        target["tasks"].append(TASK)
    return result
