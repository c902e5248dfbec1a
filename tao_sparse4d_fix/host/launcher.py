"""``tao-sparse4d-fix launcher``: make ``tao model sparse4d train`` run in the derived image, fix on.

Writes two files of the TAO launcher: ``~/.tao/config.json`` (model
``sparse4d`` remapped to the derived image, every other task as before) and
``~/.tao_mounts.json`` (``TAO_SPARSE4D_FIX=1`` added to ``Envs``). Imports
neither torch nor TAO nor the launcher itself.
"""
import json
import os
import sys

from tao_sparse4d_fix.host import launcher_config, mounts
from tao_sparse4d_fix.host.userfiles import Backups, MalformedFile, render_json

DOCKER_CONFIG = "~/.docker/config.json"


def add_arguments(parser):
    parser.add_argument("--image", metavar="REGISTRY/REPOSITORY:TAG",
                        help="image to run sparse4d in (default: the launcher's sparse4d image, tag + '-sparse4d-fix')")
    parser.add_argument("--dry-run", action="store_true", help="print the files as they would be written; change nothing")
    parser.add_argument("--refresh", action="store_true",
                        help="rebuild ~/.tao/config.json from the installed launcher's map (after a launcher upgrade)")
    parser.add_argument("--undo", action="store_true",
                        help="restore every file tao-sparse4d-fix changed (also by bundle --write-mounts), byte for byte")


def run(args):
    try:
        if args.undo:
            return _undo(args.dry_run)
        return _setup(args)
    except (launcher_config.LauncherMissing, MalformedFile, ValueError) as error:
        print(f"tao-sparse4d-fix launcher: error: {error}", file=sys.stderr)
        return 1


def _undo(dry_run):
    backups = Backups()
    changed = backups.changed_files()
    if not changed:
        print("nothing to undo: tao-sparse4d-fix has not changed any file")
        return 0
    if dry_run:
        print("would restore: " + ", ".join(changed))
        return 0
    for path, what in backups.undo():
        print(f"{path}: {what}")
    return 0


def _setup(args):
    version, packaged_path = launcher_config.installed_launcher()
    packaged = launcher_config.load(packaged_path)
    override_path = launcher_config.override_path()
    override = None if args.refresh else launcher_config.load(override_path)
    mounts_path = mounts.path()
    mounts_data = mounts.load(mounts_path)  # refuse a malformed mounts file before writing anything

    stock = launcher_config.sparse4d_image(packaged)
    if stock is None:
        raise ValueError(f"nvidia-tao {version}'s map ({packaged_path}) has no task '{launcher_config.TASK}' "
                         f"in task group '{launcher_config.TASK_GROUP}': upgrade the launcher")
    image = launcher_config.parse_image(args.image) if args.image else stock.derived()
    if override is not None:
        _warn_if_stale(override, packaged, override_path, version)
    config = launcher_config.remap(override if override is not None else packaged, image)
    new_mounts = mounts.with_fix_enabled(mounts_data)

    changes = []
    if override is None or config != override:
        changes.append((override_path, render_json(config)))
    if new_mounts != mounts_data:
        changes.append((mounts_path, render_json(new_mounts)))
    if args.dry_run:
        for path, text in changes:
            print(f"--- {path} would be:\n{text}", end="")
        if not changes:
            print("nothing would change")
        return 0
    backups = Backups()
    written = [path for path, text in changes if backups.write(path, text)]
    for path in written:
        print(f"wrote {path}")
    if override_path in written:
        print(f"note: the launcher now takes every task's image from {override_path}; after upgrading "
              "nvidia-tao, run tao-sparse4d-fix launcher --refresh (the doctor warns when it is stale)")
    if not written:
        print(f"nothing to change: {override_path} and {mounts_path} are already set up")
    print(f"`tao model sparse4d ...` now runs in {image.name} with TAO_SPARSE4D_FIX=1 "
          f"(nvidia-tao {version}; undo: tao-sparse4d-fix launcher --undo)")
    if not args.image:
        print(f"build that image once, from a checkout of tao-sparse4d-fix:\n"
              f"  docker build --build-arg BASE_IMAGE={stock.name} -t {image.name} .")
    _warn_if_not_logged_in(image)
    return 0


def _warn_if_stale(override, packaged, override_path, version):
    rows = launcher_config.differences(override, packaged)
    if not rows:
        return
    print(f"WARNING: {override_path} maps {len(rows)} other task(s) differently from the installed launcher "
          f"(nvidia-tao {version}); the launcher uses that file for every task, so they stay as they are:", file=sys.stderr)
    for task, mine, theirs in rows[:10]:
        print(f"  {task}: {mine.name if mine else 'absent'} (launcher: {theirs.name if theirs else 'absent'})", file=sys.stderr)
    if len(rows) > 10:
        print(f"  ... and {len(rows) - 10} more", file=sys.stderr)
    print("  after a launcher upgrade, run `tao-sparse4d-fix launcher --refresh` to rebuild it from the new map",
          file=sys.stderr)


def _warn_if_not_logged_in(image):
    """The launcher asserts the task's registry is in ~/.docker/config.json 'auths' before every run."""
    if os.environ.get("OVERRIDE_REGISTRY"):
        return
    path = os.path.expanduser(DOCKER_CONFIG)
    try:
        with open(path) as handle:
            auths = json.load(handle).get("auths", {})
    except (OSError, ValueError, AttributeError):
        auths = {}
    if image.registry not in auths:
        print(f"note: {path} has no login for {image.registry}; the launcher refuses to run until "
              f"`docker login {image.registry}`", file=sys.stderr)
