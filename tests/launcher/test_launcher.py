"""``tao-sparse4d-fix launcher``, checked by what the real TAO launcher (nvidia-tao 6.26.3) reads back."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hostenv import DERIVED, STOCK, clean_env, snapshot

CUSTOM = "registry.example.com:5000/team/tao-fixed:v3"
USER_ENV = {"variable": "WANDB_MODE", "value": "offline"}


def user_mounts(host):
    """A user's mounts file as they might have written it: compact, no final newline, private mode."""
    data_dir = host.home / "data"
    data_dir.mkdir(exist_ok=True)
    data = {"Mounts": [{"source": str(data_dir), "destination": "/workspace/data"}],
            "Envs": [USER_ENV], "DockerOptions": {"shm_size": "16G", "user": "1000:1000"}}
    host.mounts.write_text(json.dumps(data, separators=(",", ":")))
    os.chmod(host.mounts, 0o600)
    return data


def test_launcher_maps_sparse4d_and_nothing_else(host):
    before = host.launcher_view()
    assert before["config"].endswith("nvidia_tao_cli/config/config.json")  # the packaged map
    assert before["images"]["model sparse4d"] == STOCK

    result = host.ok("launcher", "--image", CUSTOM)
    after = host.launcher_view()
    assert after["config"] == str(host.config)
    assert after["images"]["model sparse4d"] == CUSTOM
    assert {k: v for k, v in after["images"].items() if k != "model sparse4d"} == \
           {k: v for k, v in before["images"].items() if k != "model sparse4d"}
    assert len(before["images"]) > 50  # every task group of the real map took part
    assert f"now runs in {CUSTOM} with TAO_SPARSE4D_FIX=1" in result.stdout
    assert f"the launcher now takes every task's image from {host.config}; after upgrading" in result.stdout
    assert "docker build" not in result.stdout  # a user-chosen image is the user's to build

    host.ok("launcher")  # default image: the launcher's own, tag + -sparse4d-fix
    default = host.launcher_view()
    assert default["images"]["model sparse4d"] == DERIVED
    assert {k: v for k, v in default["images"].items() if k != "model sparse4d"} == \
           {k: v for k, v in before["images"].items() if k != "model sparse4d"}
    # the old mapping is gone, not merely shadowed
    assert "team/tao-fixed" not in host.config.read_text()


def test_default_run_prints_the_matching_docker_build(host):
    result = host.ok("launcher")
    assert f"docker build --build-arg BASE_IMAGE={STOCK} -t {DERIVED} ." in result.stdout
    assert "has no login for nvcr.io" in result.stderr  # the launcher's docker-login check would refuse
    (host.home / ".docker").mkdir()
    (host.home / ".docker" / "config.json").write_text(json.dumps({"auths": {"nvcr.io": {}}}))
    assert "no login" not in host.ok("launcher").stderr


def test_mounts_read_by_the_launcher_keep_the_users_entries(host):
    data = user_mounts(host)
    host.ok("launcher")
    view = host.launcher_view()["mounts"]
    assert view == {
        "Mounts": [{"source": os.path.realpath(data["Mounts"][0]["source"]), "destination": "/workspace/data"}],
        "Envs": ["WANDB_MODE=offline", "TAO_SPARSE4D_FIX=1"],
        "DockerOptions": {"shm_size": "16G", "user": "1000:1000"},
    }
    assert os.stat(host.mounts).st_mode & 0o777 == 0o600  # the user's mode is kept


def test_mounts_file_created_when_absent_is_accepted_by_the_launcher(host):
    host.ok("launcher")
    assert host.launcher_view()["mounts"] == {"Mounts": [], "Envs": ["TAO_SPARSE4D_FIX=1"], "DockerOptions": {}}


def test_an_existing_switch_value_is_set_to_1_not_duplicated(host):
    data_dir = host.home / "d"
    data_dir.mkdir()
    host.mounts.write_text(json.dumps({"Mounts": [], "Envs": [
        {"variable": "TAO_SPARSE4D_FIX", "value": "0"}, USER_ENV, {"variable": "TAO_SPARSE4D_FIX", "value": "off"}]}))
    host.ok("launcher")
    assert host.launcher_view()["mounts"]["Envs"] == ["TAO_SPARSE4D_FIX=1", "WANDB_MODE=offline"]


def test_launchers_mounts_variable_is_honoured(host):
    elsewhere = host.home / "elsewhere.json"
    host.ok("launcher", LAUNCHER_MOUNTS=str(elsewhere))
    assert not host.mounts.exists()
    assert host.launcher_view(LAUNCHER_MOUNTS=str(elsewhere))["mounts"]["Envs"] == ["TAO_SPARSE4D_FIX=1"]


@pytest.mark.parametrize("existing", ["none", "both"])
def test_undo_restores_byte_for_byte_and_removes_what_was_new(host, existing):
    if existing == "both":
        user_mounts(host)
        host.config.parent.mkdir()
        (host.config.parent / "config_deploy.json").write_text("{}")  # not ours: must survive untouched
        override = json.loads(Path(host.launcher_view()["config"]).read_text())
        host.config.write_text(json.dumps(override, indent=1, sort_keys=True))  # the user's formatting
        os.chmod(host.config, 0o640)
    before = snapshot(host.home)

    host.ok("launcher", "--image", CUSTOM)
    host.ok("launcher")
    assert snapshot(host.home) != before
    result = host.ok("launcher", "--undo")
    assert snapshot(host.home) == before
    if existing == "none":
        assert "removed (it did not exist before)" in result.stdout
        assert sorted(os.listdir(host.home)) == []  # ~/.tao, the state folder: all gone
    else:
        assert f"{host.config}: restored" in result.stdout
    assert host.ok("launcher", "--undo").stdout.startswith("nothing to undo")


def test_undo_keeps_later_hand_edits_beside_the_file(host):
    user_mounts(host)
    original = host.mounts.read_bytes()
    host.ok("launcher")
    edited = host.mounts.read_text().replace("offline", "online")
    host.mounts.write_text(edited)
    result = host.ok("launcher", "--undo")
    assert host.mounts.read_bytes() == original
    assert (host.home / ".tao_mounts.json.before-undo").read_text() == edited
    assert "kept your later edits" in result.stdout


def test_second_run_changes_nothing(host):
    user_mounts(host)
    host.ok("launcher")
    first = snapshot(host.home)
    stamps = {p: p.stat().st_mtime_ns for p in (host.config, host.mounts)}
    result = host.ok("launcher")
    assert snapshot(host.home) == first
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # not even rewritten
    assert "nothing to change" in result.stdout
    assert host.ok("launcher", "--dry-run").stdout == "nothing would change\n"


def test_dry_run_prints_the_files_and_writes_nothing(host):
    user_mounts(host)
    before = snapshot(host.home)
    result = host.ok("launcher", "--dry-run")
    assert snapshot(host.home) == before
    assert f"--- {host.config} would be:" in result.stdout
    assert f"--- {host.mounts} would be:" in result.stdout
    assert '"variable": "TAO_SPARSE4D_FIX"' in result.stdout and DERIVED.rsplit(":", 1)[1] in result.stdout


MALFORMED_CONFIG = {
    "not JSON": ('{"format_version": 3.0,', "is not valid JSON (Expecting property name"),
    "a list": ("[]", "holds a JSON list, not an object"),
    "format 2.0": ('{"format_version": 2.0, "dockers": {}}', "has format_version 2.0"),
    "no task groups": ('{"format_version": 3.0}', "'task_group' is missing or not an object"),
    "tasks not a list": ('{"format_version": 3.0, "task_group": {"model": {"dockers": {"x/y": {"1": '
                         '{"docker_registry": "nvcr.io", "tasks": "sparse4d"}}}}}}',
                         "task_group.model.dockers['x/y']['1'] has no 'tasks' list of names"),
    "not UTF-8": (b'{"format_version": "\xff"}', "is not UTF-8 text"),
}
MALFORMED_MOUNTS = {
    "unknown key": ('{"Mounts": [], "Env": []}', "has key(s) 'Env'; the launcher accepts only Mounts, Envs, DockerOptions"),
    "no Mounts": ('{"Envs": []}', "has no 'Mounts' key, which the launcher requires"),
    "env without value": ('{"Mounts": [], "Envs": [{"variable": "A"}]}', "Envs[0] is not an object with 'variable' and 'value'"),
    "truncated": ('{"Mounts": [', "is not valid JSON"),
}


@pytest.mark.parametrize("which,case", [("config", c) for c in MALFORMED_CONFIG] + [("mounts", c) for c in MALFORMED_MOUNTS])
def test_malformed_file_is_refused_and_left_untouched(host, which, case):
    content, problem = (MALFORMED_CONFIG if which == "config" else MALFORMED_MOUNTS)[case]
    path = host.config if which == "config" else host.mounts
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = snapshot(host.home)
    result = host.cli("launcher")
    assert result.returncode == 1
    assert result.stderr.startswith(f"tao-sparse4d-fix launcher: error: {path}: {problem}"), result.stderr
    assert "left unchanged" in result.stderr
    assert snapshot(host.home) == before  # nothing written, no backup folder either


def test_stale_override_is_reported_kept_and_refreshed_on_request(host):
    override = json.loads(Path(host.launcher_view()["config"]).read_text())
    pyt = override["task_group"]["model"]["dockers"]["nvidia/tao/tao-toolkit"]
    pyt["6.26.3-pyt"]["tasks"].remove("dino")  # as if written by an older launcher: dino on an older tag
    pyt["6.25.11-pyt"] = {"docker_registry": "nvcr.io", "tasks": ["dino"]}
    host.config.parent.mkdir()
    host.config.write_text(json.dumps(override))
    stale_view = host.launcher_view()

    result = host.ok("launcher")
    assert "maps 1 other task(s) differently from the installed launcher (nvidia-tao 6.26.3)" in result.stderr
    assert "model dino: nvcr.io/nvidia/tao/tao-toolkit:6.25.11-pyt (launcher: nvcr.io/nvidia/tao/tao-toolkit:6.26.3-pyt)" in result.stderr
    assert "tao-sparse4d-fix launcher --refresh" in result.stderr
    assert host.launcher_view()["images"]["model dino"] == "nvcr.io/nvidia/tao/tao-toolkit:6.25.11-pyt"  # kept
    doctor = host.cli("doctor").stdout
    assert "WARNING: " + str(host.config) + " maps 1 other task(s) differently from nvidia-tao 6.26.3 (first: model dino)" in doctor

    host.ok("launcher", "--refresh")
    refreshed = host.launcher_view()["images"]
    assert refreshed["model dino"] == "nvcr.io/nvidia/tao/tao-toolkit:6.26.3-pyt"
    assert refreshed["model sparse4d"] == DERIVED
    assert "differently" not in host.ok("launcher").stderr
    # undo goes back to the user's stale file, byte for byte
    host.ok("launcher", "--undo")
    assert json.loads(host.config.read_text()) == override
    assert host.launcher_view() == stale_view


@pytest.mark.parametrize("image", ["nvidia/tao/tao-toolkit:6.26.3-pyt", "nvcr.io/nvidia/tao/tao-toolkit",
                                   "nvcr.io/nvidia/tao/tao-toolkit@sha256:" + "0" * 64, "nvcr.io/Upper/x:1"])
def test_an_image_without_registry_or_tag_is_refused(host, image):
    result = host.cli("launcher", "--image", image)
    assert result.returncode == 1
    assert f"--image {image!r} is not REGISTRY/REPOSITORY:TAG" in result.stderr
    assert os.listdir(host.home) == []


def test_without_the_launcher_it_says_what_to_do(host, tmp_path):
    # the plugin alone on sys.path (-S: no site-packages, so no nvidia-tao)
    shutil.copytree(host.site_packages() / "tao_sparse4d_fix", tmp_path / "alone" / "tao_sparse4d_fix")
    result = host.cli("launcher", flags=["-S"], PYTHONPATH=str(tmp_path / "alone"))
    assert result.returncode == 1
    assert "the TAO launcher (PyPI package nvidia-tao) is not installed in this Python" in result.stderr
    assert "pip install nvidia-tao" in result.stderr
    assert os.listdir(host.home) == []


def test_doctor_on_the_host_says_where_sparse4d_runs(host):
    before = host.cli("doctor")
    assert f"`tao model sparse4d` runs in {STOCK} (from the map packaged with nvidia-tao 6.26.3): the launcher's stock image" in before.stdout
    assert "TAO_SPARSE4D_FIX=1 NOT passed; bundle not mounted" in before.stdout
    assert "does not pass TAO_SPARSE4D_FIX=1, so `tao model sparse4d` runs stock TAO" in before.stdout
    assert before.returncode == 1
    host.ok("launcher")
    after = host.cli("doctor")
    assert f"runs in {DERIVED} (from {host.config}): the derived image" in after.stdout
    assert "TAO_SPARSE4D_FIX=1 passed" in after.stdout
    assert after.returncode == 0, after.stdout
    assert after.stdout.rstrip().endswith("ready")


def poisoned_path(tmp_path):
    """A PYTHONPATH folder whose torch, TAO and docker packages fail loudly when imported."""
    root = tmp_path / "poison"
    for name in ("torch", "nvidia_tao_pytorch", "nvidia_tao_core", "docker", "nvidia_tao_cli"):
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_text(f"raise ImportError('tao-sparse4d-fix imported {name}')\n")
    return root


def _interpreter(version):
    found = shutil.which(f"python{version}")
    candidates = [found] if found else []
    candidates += sorted(str(p) for p in Path.home().glob(f".pyenv/versions/{version}*/bin/python{version}"))
    for candidate in candidates:
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    pytest.skip(f"no python{version} here")


@pytest.mark.parametrize("version", ["3.10", "3.12"])
def test_launcher_and_bundle_import_neither_torch_nor_tao_on_other_pythons(host, tmp_path, version):
    python = _interpreter(version)
    env = {"PYTHONPATH": os.pathsep.join([str(poisoned_path(tmp_path)), str(host.site_packages())])}
    launcher = host.cli("launcher", python=python, **env)
    assert launcher.returncode == 0, launcher.stderr
    assert json.loads(host.config.read_text())["task_group"]["model"]["dockers"]["nvidia/tao/tao-toolkit"][
        "6.26.3-pyt-sparse4d-fix"] == {"docker_registry": "nvcr.io", "tasks": ["sparse4d"]}
    bundle = host.cli("bundle", str(tmp_path / "bundle"), python=python, **env)
    assert bundle.returncode == 0, bundle.stderr
    assert (tmp_path / "bundle" / "wrapt" / "__init__.py").is_file()
    assert "imported" not in launcher.stderr + bundle.stderr
    clean = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True,
                           env=clean_env(host.home)).stdout
    assert clean.strip() == str(tuple(int(p) for p in version.split(".")))


def test_doctor_on_a_host_reports_container_checks_as_not_applicable(host):
    host.ok("launcher")
    result = host.cli("doctor", TAO_SPARSE4D_FIX="1")  # exported, as the README's recipes do
    assert result.returncode == 0, result.stdout
    assert "where: a host (nvidia_tao_pytorch is not importable in this Python): the container's checks" in result.stdout
    assert "not applicable here" in result.stdout
    assert "PROBLEM" not in result.stdout and "[UNKNOWN]" not in result.stdout
    assert f"TAO_SPARSE4D_FIX_RANK_TIMEOUT in {host.mounts}'s Envs: 60 s" in result.stdout
    assert result.stdout.rstrip().endswith("ready")


@pytest.mark.parametrize("value", ["1e300", "1e-300", "0", "86401", "soon"])
def test_doctor_on_a_host_checks_the_switches_the_mounts_pass(host, value):
    host.ok("launcher")
    data = json.loads(host.mounts.read_text())
    data["Envs"].append({"variable": "TAO_SPARSE4D_FIX_RANK_TIMEOUT", "value": value})
    host.mounts.write_text(json.dumps(data))
    result = host.cli("doctor")
    assert result.returncode == 1
    assert (f"PROBLEM: tao-sparse4d-fix: TAO_SPARSE4D_FIX_RANK_TIMEOUT={value!r} is not a valid value; give a number "
            "of seconds greater than 0, from 0.1 to 86400 (default 60).") in result.stdout
    assert result.stdout.count("PROBLEM") == 1


def test_doctor_without_tao_or_launcher_has_nothing_to_stop(host, tmp_path):
    shutil.copytree(host.site_packages() / "tao_sparse4d_fix", tmp_path / "alone" / "tao_sparse4d_fix")
    result = host.cli("doctor", flags=["-S"], PYTHONPATH=str(tmp_path / "alone"), TAO_SPARSE4D_FIX="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TAO launcher (nvidia-tao): not installed in this Python, so nothing here decides how TAO runs" in result.stdout
