"""``tao-sparse4d-fix launcher``: make ``tao model sparse4d train`` run in the derived image, fix on.

Writes two files of the TAO launcher: ``~/.tao/config.json`` (model
``sparse4d`` remapped to the derived image, every other task as before) and
``~/.tao_mounts.json`` (``TAO_SPARSE4D_FIX=1`` added to ``Envs``). Imports
neither torch nor TAO nor the launcher itself.
"""
import json
import os
import sys
from types import SimpleNamespace

from tao_sparse4d_fix.errors import CommandError
from tao_sparse4d_fix.host import launcher_config, mounts
from tao_sparse4d_fix.host.userfiles import UserFiles, render_json

DOCKER_CONFIG = "~/.docker/config.json"


def add_arguments(parser):
    parser.add_argument("--image", metavar="REGISTRY/REPOSITORY:TAG",
                        help="image to run sparse4d in (default: the launcher's sparse4d image, tag + '-sparse4d-fix')")
    parser.add_argument("--dry-run", action="store_true", help="print the files as they would be written; change nothing")
    parser.add_argument("--refresh", action="store_true",
                        help="rebuild ~/.tao/config.json from the installed launcher's map (after a launcher upgrade)")
    parser.add_argument("--undo", action="store_true",
                        help="restore every file tao-sparse4d-fix changed (also by bundle --write-mounts), byte for byte")
    parser.add_argument("--force", action="store_true", help="change a read-only config.json or mounts file too")


def run(args):
    """Exit status 0, or a ``CommandError`` (printed by the CLI as one line)."""
    if args.undo:
        return _undo(args.dry_run)
    image = launcher_config.parse_image(args.image) if args.image else None
    version, packaged_path = launcher_config.installed_launcher()
    packaged = launcher_config.load(packaged_path)
    if args.dry_run:
        plan = _plan(args, image, version, packaged, packaged_path)
        for path, text in plan.changes:
            print(f"--- {path} would be:\n{text}", end="")
        if not plan.changes:
            print("nothing would change")
        return 0
    files = UserFiles()
    with files.locked():  # read, compute and write under one lock: a concurrent run sees this one's result
        plan = _plan(args, image, version, packaged, packaged_path)
        written = files.commit(plan.changes, force=args.force)
    _report(args, plan, written, version)
    return 0


def _undo(dry_run):
    files = UserFiles()
    if dry_run:
        changed = files.changed_files()
        print("would restore: " + ", ".join(changed) if changed else "nothing to undo: tao-sparse4d-fix has not changed any file")
        return 0
    with files.locked():
        if not files.changed_files():
            print("nothing to undo: tao-sparse4d-fix has not changed any file")
            return 0
        rows, complete = files.undo()
    for path, what in rows:
        print(f"{path}: {what}")
    if not complete:
        raise CommandError("some files were not restored (see above); the state is kept, nothing else was lost")
    return 0


def _plan(args, image, version, packaged, packaged_path):
    """What the two files would hold: read now (under the lock, unless a dry run)."""
    override_path = launcher_config.override_path()
    override = None if args.refresh else launcher_config.load(override_path)
    mounts_path = mounts.path()
    mounts_data = mounts.load(mounts_path)  # refuse a malformed mounts file before writing anything
    stock = launcher_config.sparse4d_image(packaged)
    if stock is None:
        raise CommandError(f"nvidia-tao {version}'s map ({packaged_path}) has no task '{launcher_config.TASK}' "
                           f"in task group '{launcher_config.TASK_GROUP}': upgrade the launcher")
    bundled = mounts.bundle_mounted(mounts_data)
    image = image or stock.derived()
    stock_images = set(launcher_config.task_images(packaged).values())
    if image in stock_images and not bundled:
        raise CommandError(
            f"--image {image.name} is a stock image of nvidia-tao {version}'s map: it has no tao-sparse4d-fix, so "
            "TAO_SPARSE4D_FIX=1 would run stock TAO. Build the derived image (tao-sparse4d-fix launcher without "
            "--image prints how) or mount a bundle first (tao-sparse4d-fix bundle DIR --write-mounts); nothing was changed")
    if override is not None:
        _warn_if_stale(override, packaged, override_path, version)
    config = launcher_config.remap(override if override is not None else packaged, image)
    new_mounts = mounts.with_fix_enabled(mounts_data)
    changes = []
    if override is None or config != override:
        changes.append((override_path, render_json(config)))
    if new_mounts != mounts_data:
        changes.append((mounts_path, render_json(new_mounts)))
    return SimpleNamespace(changes=changes, image=image, stock=stock, override_path=override_path, mounts_path=mounts_path,
                 carries=("stock" if image in stock_images else "derived" if image == stock.derived() else "custom"),
                 bundled=bundled)


def _report(args, plan, written, version):
    image, override_path, mounts_path = plan.image, plan.override_path, plan.mounts_path
    for path in written:
        print(f"wrote {path}")
    if override_path in written:
        print(f"note: the launcher now takes every task's image from {override_path}; after upgrading "
              "nvidia-tao, run tao-sparse4d-fix launcher --refresh (the doctor warns when it is stale)")
    if not written:
        print(f"nothing to change: {override_path} and {mounts_path} are already set up")
    print(f"`tao model sparse4d ...` now runs in {image.name} with TAO_SPARSE4D_FIX=1 "
          f"(nvidia-tao {version}; undo: tao-sparse4d-fix launcher --undo)")
    if plan.carries == "stock":
        print(f"the fix comes from the bundle mounted at {plan.bundled} (the stock image has none)")
    elif plan.carries == "custom":
        print(f"the fix is on only if {image.name} has tao-sparse4d-fix installed (built with this repository's "
              f"Dockerfile); check inside it: docker run --rm -e TAO_SPARSE4D_FIX=1 {image.name} "
              "python -m tao_sparse4d_fix doctor")
    if not args.image:
        print(f"build that image once, from a checkout of tao-sparse4d-fix:\n"
              f"  docker build --build-arg BASE_IMAGE={plan.stock.name} -t {image.name} .")
    _warn_if_not_logged_in(image)


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
