"""The Dockerfile, without a Docker engine: its instructions, and its build steps replayed here.

No Docker daemon runs on these machines, so the image itself is never built
in the tests. What can be checked is checked: the base image is the one the
real launcher maps sparse4d to, the files it COPYs are enough to build the
package (replayed with pip from exactly those files), the install is not
editable (so pip installs the ``.pth`` hook), the switch is set as ``ENV``
before the build-time doctor, and the doctor is the last step.
"""
import re
import shlex
import shutil
import subprocess
import zipfile

from hostenv import REPO, STOCK


def instructions():
    """[(INSTRUCTION, arguments)] with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            rows.append((keyword.upper(), rest.strip()))
    return rows


def test_base_image_is_the_one_the_launcher_maps_sparse4d_to(host):
    rows = instructions()
    assert rows[0] == ("ARG", f"BASE_IMAGE={STOCK}")
    assert rows[1] == ("FROM", "${BASE_IMAGE}")
    assert host.launcher_view()["images"]["model sparse4d"] == STOCK  # the real launcher's packaged map


def test_installs_non_editably_then_switches_on_then_runs_the_doctor():
    rows = instructions()
    runs = [(i, args) for i, (keyword, args) in enumerate(rows) if keyword == "RUN"]
    installs = [(i, args) for i, args in runs if "pip install" in args]
    assert len(installs) == 1
    install_at, install = installs[0]
    words = shlex.split(install.split("&&")[0])
    assert words[words.index("install") + 1:] == ["--no-cache-dir", "/tmp/tao-sparse4d-fix"]  # a path, no -e
    assert not {"-e", "--editable"} & set(words)
    env_at = rows.index(("ENV", "TAO_SPARSE4D_FIX=1"))
    assert install_at < env_at
    assert rows[-1] == ("RUN", "python -m tao_sparse4d_fix doctor") and env_at < len(rows) - 1


def test_the_copied_files_build_a_wheel_that_ships_the_start_up_hook(host, tmp_path):
    """Replay the COPY steps into a folder, then build what `pip install` would install from it."""
    context = tmp_path / "image" / "tmp" / "tao-sparse4d-fix"
    for keyword, args in instructions():
        if keyword != "COPY":
            continue
        *sources, destination = shlex.split(args)
        assert destination.startswith("/tmp/tao-sparse4d-fix")
        target = tmp_path / "image" / destination.lstrip("/")
        for source in sources:
            path = REPO / source
            if path.is_dir():
                shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target / path.name)
    built = subprocess.run([str(host.python), "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "wheel"), str(context)], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "wheel").glob("tao_sparse4d_fix-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = {p.relative_to(REPO).as_posix() for p in (REPO / "tao_sparse4d_fix").rglob("*.py")}
    assert "tao_sparse4d_fix.pth" in names  # at the root of site-packages once installed
    assert package <= names
    assert (context / "tao_sparse4d_fix.pth").read_bytes() == (REPO / "tao_sparse4d_fix.pth").read_bytes()

