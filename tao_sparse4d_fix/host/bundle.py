"""``tao-sparse4d-fix bundle DIR``: the fix for a stock TAO image, with no image build.

DIR gets the plugin package, ``wrapt`` for the container's Python (``pip
install --target``) and a start-up file. Two bind mounts put it in the
container: DIR at its own path (``/opt/tao-sparse4d-fix``) and the start-up
file into site-packages as ``tao_sparse4d_fix_bundle.pth``. When
``TAO_SPARSE4D_FIX`` is on, that line APPENDS the folder to ``sys.path`` (a
``wrapt`` the image has wins; nothing of the image is shadowed) and runs the
plugin's usual start-up line; when it is off, it does nothing. No
``PYTHONPATH`` and no ``sitecustomize``: the image may have its own.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata

import tao_sparse4d_fix
from tao_sparse4d_fix.host import mounts
from tao_sparse4d_fix import switches
from tao_sparse4d_fix.errors import CommandError
from tao_sparse4d_fix.host.userfiles import UserFiles, render_json

DISTRIBUTION = "tao-sparse4d-fix"
PACKAGE = "tao_sparse4d_fix"
INSTALLED_PTH = "tao_sparse4d_fix.pth"  # the usual start-up line, as pip installs it
BUNDLE_PTH = "tao_sparse4d_fix.pth"  # the bundle's start-up file, inside DIR (beside the package)
MOUNTED_PTH = mounts.BUNDLE_STARTUP  # its name in the container's site-packages
MARKER = "tao_sparse4d_fix_bundle.json"  # what the doctor reads to say it runs from a bundle
DEFAULT_PYTHON = "3.12"
SITE_PACKAGES = "/usr/local/lib/python{version}/dist-packages"  # where TAO's images keep packages
DEFAULT_MOUNT_POINT = "/opt/tao-sparse4d-fix"


class BundleError(CommandError):
    """The bundle cannot be built as asked; nothing was changed."""


def add_arguments(parser):
    parser.add_argument("directory", metavar="DIR", help="folder to build the bundle in (created; a previous bundle is replaced)")
    parser.add_argument("--python-version", default=DEFAULT_PYTHON, help=f"the container's Python (default {DEFAULT_PYTHON})")
    parser.add_argument("--platform", help="pip platform tag for wrapt's wheel (default: this machine's)")
    parser.add_argument("--site-packages", help="the container's site-packages (default "
                        f"{SITE_PACKAGES.format(version='<python-version>')})")
    parser.add_argument("--mount-point", default=DEFAULT_MOUNT_POINT,
                        help=f"where the folder is mounted in the container (default {DEFAULT_MOUNT_POINT})")
    parser.add_argument("--write-mounts", action="store_true",
                        help="add the two mounts and TAO_SPARSE4D_FIX=1 to ~/.tao_mounts.json (backed up; "
                             "tao-sparse4d-fix launcher --undo restores it)")
    parser.add_argument("--force", action="store_true",
                        help="with --write-mounts: replace your own mount at the bundle's destinations, "
                             "and change a read-only mounts file")


def run(args):
    """Exit status 0, or a ``CommandError`` (printed by the CLI as one line)."""
    version = _check_python_version(args.python_version)
    site_packages = args.site_packages or SITE_PACKAGES.format(version=version)
    for option, value in (("--site-packages", site_packages), ("--mount-point", args.mount_point)):
        if not os.path.isabs(value):
            raise BundleError(f"{option} {value!r} is not an absolute path inside the container")
    mounts_path = mounts.path()
    directory = os.path.abspath(args.directory)
    entries = mount_entries(directory, site_packages, args.mount_point)
    if args.write_mounts:  # refuse a malformed or occupied mounts file before building anything
        _merged(mounts.load(mounts_path), entries, mounts_path, args.force)
    build(directory, version, args.platform, site_packages, args.mount_point)
    print(f"built {directory} for Python {version}. Add these two entries to \"Mounts\" in {mounts_path}, "
          f"and {{\"variable\": \"{switches.ENABLE}\", \"value\": \"1\"}} to \"Envs\":")
    print(json.dumps(entries, indent=4))
    if args.write_mounts:
        files = UserFiles()
        with files.locked():  # read again under the lock: the file may have changed during the build
            mounts_data = mounts.load(mounts_path)
            merged = _merged(mounts_data, entries, mounts_path, args.force)
            written = merged != mounts_data and files.commit([(mounts_path, render_json(merged))], force=args.force)
        print(f"wrote {mounts_path} (undo: tao-sparse4d-fix launcher --undo)" if written
              else f"{mounts_path} already holds them")
    return 0


def _merged(mounts_data, entries, mounts_path, force):
    """The mounts with the bundle's entries; a user's own mount at one of their destinations is refused."""
    foreign = [(item, entry) for item, entry in mounts.occupied(mounts_data, entries) if not _is_bundle(item["source"])]
    if foreign and not force:
        item, entry = foreign[0]
        raise BundleError(f"{mounts_path} already mounts {item['source']} at {entry['destination']}, where the bundle "
                          "goes, and it is not a bundle; nothing was changed. Choose another --mount-point or "
                          "--site-packages, or run again with --force to replace that mount")
    return mounts.with_mounts(mounts_data, entries)


def _is_bundle(source):
    """Whether a mount's source is (the start-up file of) a folder this command built."""
    folder = str(source)
    if os.path.basename(folder) == BUNDLE_PTH:
        folder = os.path.dirname(folder)
    return os.path.isfile(os.path.join(folder, MARKER))


def _check_python_version(text):
    match = re.fullmatch(r"3\.(\d+)", text)
    if not match or int(match.group(1)) < 10:
        raise BundleError(f"--python-version {text!r} is not valid: give the container's Python as 3.N with N >= 10 "
                          "(tao-sparse4d-fix needs 3.10+; TAO's containers have 3.12)")
    return text


def mount_entries(directory, site_packages, mount_point):
    """The two ``Mounts`` entries, in the launcher's format."""
    return [
        {"source": directory, "destination": mount_point},
        {"source": os.path.join(directory, BUNDLE_PTH), "destination": f"{site_packages.rstrip('/')}/{MOUNTED_PTH}"},
    ]


def startup_line(mount_point):
    """The bundle's ``.pth`` line: append ``mount_point`` when the switch is not off, then the usual line."""
    append = (f"import sys\nif os.environ['{switches.ENABLE}'].strip().lower() not in {switches.OFF_VALUES!r} "
              f"and {mount_point!r} not in sys.path:\n sys.path.append({mount_point!r})")
    return (f"import os; exec({append!r}) if os.environ.get({switches.ENABLE!r}) else None; "
            f"{_usual_line()}")


def _usual_line():
    try:
        distribution = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise BundleError(f"{DISTRIBUTION} is not installed in this Python; pip install it (not editable) first") from None
    path = str(distribution.locate_file(INSTALLED_PTH))
    try:
        with open(path) as handle:
            lines = [line.rstrip("\n") for line in handle if line.startswith("import")]
    except FileNotFoundError:
        raise BundleError(f"{path} is missing (an editable install ships none): pip install {DISTRIBUTION} non-editably") from None
    if len(lines) != 1:
        raise BundleError(f"{path} should hold exactly one start-up line, found {len(lines)}")
    return lines[0]


def build(directory, python_version, platform, site_packages, mount_point):
    """Build the bundle aside, then put it in place of ``directory`` (refusing a non-bundle folder)."""
    if os.path.exists(directory) and not (os.path.isdir(directory) and (not os.listdir(directory)
                                                                        or os.path.isfile(os.path.join(directory, MARKER)))):
        raise BundleError(f"{directory} exists and is not an empty folder or a previous bundle; choose another DIR")
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(directory)}.", dir=parent)
    try:
        _fill(staging, python_version, platform, site_packages, mount_point)
        if os.path.exists(directory):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(directory)}.old.", dir=parent)
            os.rename(directory, os.path.join(old, "bundle"))
            os.rename(staging, directory)
            shutil.rmtree(old)
        else:
            os.rename(staging, directory)
        os.chmod(directory, 0o755)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _fill(staging, python_version, platform, site_packages, mount_point):
    source = os.path.dirname(os.path.abspath(tao_sparse4d_fix.__file__))
    shutil.copytree(source, os.path.join(staging, PACKAGE), ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wrapt = _wrapt_requirement()
    command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet", "--no-deps",
               "--no-compile", "--only-binary=:all:", "--python-version", python_version, "--target", staging, wrapt]
    if platform:
        command[-1:-1] = ["--platform", platform]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise BundleError(f"pip could not fetch {wrapt} for Python {python_version}"
                          f"{' on ' + platform if platform else ''}:\n{result.stdout}{result.stderr}")
    with open(os.path.join(staging, BUNDLE_PTH), "w") as handle:
        handle.write(startup_line(mount_point) + "\n")
    with open(os.path.join(staging, MARKER), "w") as handle:
        handle.write(render_json({
            "python_version": python_version,
            "tao_sparse4d_fix": tao_sparse4d_fix.__version__,
            "wrapt": _installed_version(staging, "wrapt"),
            "mount_point": mount_point,
            "site_packages": site_packages,
        }))


def _wrapt_requirement():
    """wrapt as the plugin's own metadata requires it (no second copy of the pin)."""
    try:
        requirements = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        raise BundleError(f"{DISTRIBUTION} is not installed in this Python; pip install it (not editable) first") from None
    for requirement in requirements:
        if re.match(r"wrapt\b", requirement):
            return requirement.split(";")[0].replace(" ", "").replace("(", "").replace(")", "")
    raise BundleError(f"{DISTRIBUTION}'s metadata names no wrapt requirement")


def _installed_version(target, name):
    found = [d.version for d in metadata.distributions(path=[target]) if d.metadata["Name"].lower() == name]
    return found[0] if found else None
