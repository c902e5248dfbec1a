"""The TAO launcher's ``~/.tao_mounts.json``: checked as the launcher would, and extended.

The launcher reads it from ``$LAUNCHER_MOUNTS`` if set, else ``~/.tao_mounts.json``.
It requires ``Mounts`` (a list of ``{"source", "destination"}``), accepts
``Envs`` (a list of ``{"variable", "value"}``) and ``DockerOptions`` (an
object), and raises on any other key. Entries we add keep every other entry
and their order.
"""
import copy
import os

from tao_sparse4d_fix.switches import ENABLE as ENV_VAR
from tao_sparse4d_fix.host.userfiles import MalformedFile, read_json_object

DEFAULT_PATH = "~/.tao_mounts.json"
BUNDLE_STARTUP = "tao_sparse4d_fix_bundle.pth"  # the bundle's start-up file, as mounted into site-packages
KEYS = ("Mounts", "Envs", "DockerOptions")
ENABLE = {"variable": ENV_VAR, "value": "1"}


def path():
    return os.path.expanduser(os.environ.get("LAUNCHER_MOUNTS") or DEFAULT_PATH)


def load(file_path):
    """The mounts file's data (None if absent); MalformedFile for what the launcher would reject."""
    data = read_json_object(file_path)
    if data is None:
        return None
    unknown = [key for key in data if key not in KEYS]
    if unknown:
        raise MalformedFile(file_path, f"has key(s) {', '.join(map(repr, unknown))}; the launcher accepts only {', '.join(KEYS)}")
    if "Mounts" not in data:
        raise MalformedFile(file_path, "has no 'Mounts' key, which the launcher requires")
    _check_list(file_path, data, "Mounts", ("source", "destination"))
    _check_list(file_path, data, "Envs", ("variable", "value"))
    if "DockerOptions" in data and not isinstance(data["DockerOptions"], dict):
        raise MalformedFile(file_path, "'DockerOptions' is not an object")
    return data


def _check_list(file_path, data, key, fields):
    if key not in data:
        return
    if not isinstance(data[key], list):
        raise MalformedFile(file_path, f"'{key}' is not a list")
    for index, item in enumerate(data[key]):
        if not isinstance(item, dict) or not all(field in item for field in fields):
            raise MalformedFile(file_path, f"{key}[{index}] is not an object with {' and '.join(map(repr, fields))}")


def enabled(data):
    """Whether the launcher would pass ``TAO_SPARSE4D_FIX=1`` (the last entry for a variable wins in docker)."""
    values = [str(item["value"]) for item in (data or {}).get("Envs", []) if item["variable"] == ENV_VAR]
    return bool(values) and values[-1] == "1"


def bundle_mounted(data):
    """The destination at which the mounts put a bundle's start-up file, or None."""
    found = [str(m["destination"]) for m in (data or {}).get("Mounts", [])
             if os.path.basename(str(m["destination"])) == BUNDLE_STARTUP]
    return found[0] if found else None


def with_fix_enabled(data):
    """A copy of the mounts data that passes ``TAO_SPARSE4D_FIX=1``; every other entry kept."""
    result = copy.deepcopy(data) if data is not None else {"Mounts": []}
    envs = result.setdefault("Envs", [])
    if enabled(result):
        return result
    ours = [item for item in envs if item["variable"] == ENV_VAR]
    if ours:
        ours[0]["value"] = "1"
        result["Envs"] = [item for item in envs if item["variable"] != ENV_VAR or item is ours[0]]
    else:
        envs.append(dict(ENABLE))
    return result


def occupied(data, entries):
    """The existing entries at the destinations of ``entries`` whose source differs: [(existing, entry)]."""
    rows = []
    for item in (data or {}).get("Mounts", []):
        for entry in entries:
            if _destination(item) == _destination(entry) and str(item["source"]) != entry["source"]:
                rows.append((item, entry))
    return rows


def with_mounts(data, entries):
    """A copy with ``entries`` mounted: an existing entry for the same destination is replaced in place
    (the caller checks ``occupied`` first: only a previous bundle's entry may be replaced silently)."""
    result = with_fix_enabled(data)
    mounts = result["Mounts"]
    for entry in entries:
        same = [i for i, item in enumerate(mounts) if _destination(item) == _destination(entry)]
        if same:
            mounts[same[0]] = dict(entry)
        else:
            mounts.append(dict(entry))
    return result


def _destination(item):
    return os.path.normpath(str(item["destination"]))
