"""The doctor's lines on how the fix reaches TAO's interpreter: wrapt, a bundle, the TAO launcher.

In a container: is ``wrapt`` importable, and was the plugin loaded from a
bundle built for this Python? On a host with the TAO launcher: which image
``tao model sparse4d`` would run in, whether it is the derived one, and
whether the launcher passes ``TAO_SPARSE4D_FIX=1``.
"""
import json
import os
import site
import sys

import tao_sparse4d_fix
from tao_sparse4d_fix.host import bundle, launcher_config, mounts
from tao_sparse4d_fix.host.userfiles import MalformedFile


def report(switch_state):
    """In a container: print the lines; return the problems that would keep the fix from running."""
    problems = []
    _report_wrapt(switch_state, problems)
    _report_bundle(problems)
    report_launcher(problems)
    return problems


def bundle_marker():
    """The marker of the bundle this plugin was loaded from, or None (not loaded from a bundle)."""
    folder = os.path.dirname(os.path.dirname(os.path.abspath(tao_sparse4d_fix.__file__)))
    marker = os.path.join(folder, bundle.MARKER)
    return marker if os.path.isfile(marker) else None


def _report_wrapt(switch_state, problems):
    try:
        import wrapt
    except ImportError as error:
        print(f"  wrapt: NOT importable ({error})")
        if switch_state != "off":
            problems.append("wrapt is not importable, so the fix cannot load: pip install wrapt, or mount a bundle")
        return
    print(f"  wrapt: {getattr(wrapt, '__version__', 'unknown version')} from {os.path.dirname(wrapt.__file__)}")


def _report_bundle(problems):
    marker = bundle_marker()
    if marker is None:
        return
    folder = os.path.dirname(marker)
    with open(marker) as handle:
        built = json.load(handle)
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    print(f"  bundle: loaded from {folder} (built for Python {built['python_version']}, this is {here}; "
          f"its wrapt {built['wrapt']})")
    if built["python_version"] != here:
        problems.append(f"the bundle at {folder} was built for Python {built['python_version']}, this is {here}: "
                        f"rebuild it with tao-sparse4d-fix bundle DIR --python-version {here}")
    site_dirs = site.getsitepackages() + [site.getusersitepackages()]
    found = [os.path.join(d, bundle.MOUNTED_PTH) for d in site_dirs if os.path.isfile(os.path.join(d, bundle.MOUNTED_PTH))]
    print(f"  bundle start-up file: {found[0] if found else 'none in ' + ', '.join(site_dirs) + ' (it will not load by itself)'}")


def report_launcher(problems):
    """The TAO launcher's lines (if it is installed here); the mounts file's data, {} without one, None without a launcher."""
    try:
        version, packaged_path = launcher_config.installed_launcher()
    except launcher_config.LauncherMissing:
        return None  # not a launcher host
    override_path = launcher_config.override_path()
    mounts_path = mounts.path()
    try:
        packaged = launcher_config.load(packaged_path)
        override = launcher_config.load(override_path)
        mounts_data = mounts.load(mounts_path)
    except MalformedFile as error:
        problems.append(str(error))
        return {}
    stock = launcher_config.sparse4d_image(packaged)
    image = launcher_config.sparse4d_image(override if override is not None else packaged)
    source = override_path if override is not None else f"the map packaged with nvidia-tao {version}"
    if image is None:
        print(f"  TAO launcher nvidia-tao {version}: {source} maps no sparse4d task")
        problems.append(f"{source} maps no {launcher_config.TASK_GROUP} {launcher_config.TASK} task")
        return mounts_data or {}
    name = image.name
    if os.environ.get("OVERRIDE_REGISTRY"):  # the launcher swaps every task's registry for it
        name = launcher_config.Image(os.environ["OVERRIDE_REGISTRY"], image.repository, image.tag).name
    kind = {stock: "the launcher's stock image", stock.derived(): "the derived image (Dockerfile of tao-sparse4d-fix)"}
    print(f"  TAO launcher nvidia-tao {version}: `tao model sparse4d` runs in {name} (from {source}): "
          f"{kind.get(image, 'a custom image')}")
    bundled = mounts.bundle_mounted(mounts_data)
    passes = mounts.enabled(mounts_data)
    print(f"  TAO launcher mounts {mounts_path}: TAO_SPARSE4D_FIX=1 {'passed' if passes else 'NOT passed'}; "
          f"bundle {'mounted at ' + bundled if bundled else 'not mounted'}")
    if not passes:
        problems.append(f"{mounts_path} does not pass TAO_SPARSE4D_FIX=1, so `tao model sparse4d` runs stock TAO: "
                        "run tao-sparse4d-fix launcher (derived image) or tao-sparse4d-fix bundle DIR --write-mounts")
    elif image == stock and not bundled:
        problems.append(f"`tao model sparse4d` runs in the stock image {stock.name} and no bundle is mounted, so the "
                        "fix is not installed there: run tao-sparse4d-fix launcher or tao-sparse4d-fix bundle DIR --write-mounts")
    if override is not None:
        stale = launcher_config.differences(override, packaged)
        if stale:
            print(f"  WARNING: {override_path} maps {len(stale)} other task(s) differently from nvidia-tao {version} "
                  f"(first: {stale[0][0]}); after a launcher upgrade run tao-sparse4d-fix launcher --refresh")
    return mounts_data or {}
