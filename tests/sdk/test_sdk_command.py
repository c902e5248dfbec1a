"""``tao-sparse4d-fix sdk``: what it prints, read from the installed launcher and a real bundle; what it refuses."""
import ast
import json
import os
import shutil

import pytest

from sdkjobs import DERIVED, ENABLED, KEYS, STOCK, bundle_mounts


def keyword_arguments(stdout):
    """The ``name=value,`` lines of the text output, evaluated as Python keyword arguments."""
    lines = [line.strip() for line in stdout.splitlines() if line.startswith("    ") and "=" in line]
    call = ast.parse(f"create_job({' '.join(lines)})", mode="eval").body
    return {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}


def test_json_without_bundle_is_the_derived_image_and_the_switch(host):
    assert host.sdk_json() == {"image": DERIVED, "env_vars": ENABLED, "mounts": []}
    assert os.listdir(host.home) == []  # prints only: no file of the launcher's is written


def test_json_with_bundle_is_the_stock_image_and_the_bundles_two_mounts(host, bundle):
    assert host.sdk_json("--bundle", str(bundle)) == {"image": STOCK, "env_vars": ENABLED,
                                                       "mounts": bundle_mounts(bundle)}


def test_the_mounts_come_from_the_bundles_marker(host, tmp_path):
    directory = tmp_path / "custom-bundle"
    host.ok("bundle", str(directory), "--mount-point", "/mnt/fix", "--site-packages", "/usr/lib/python3/dist-packages")
    marker = json.loads((directory / "tao_sparse4d_fix_bundle.json").read_text())
    assert (marker["mount_point"], marker["site_packages"]) == ("/mnt/fix", "/usr/lib/python3/dist-packages")
    assert host.sdk_json("--bundle", str(directory))["mounts"] == bundle_mounts(
        directory, "/mnt/fix", "/usr/lib/python3/dist-packages/tao_sparse4d_fix_bundle.pth")


@pytest.mark.parametrize("bundled", [False, True])
def test_image_overrides_either_default(host, bundle, bundled):
    image = "registry.example.com:5000/team/tao-toolkit:6.26.3-pyt-sparse4d-fix"
    arguments = host.sdk_json("--image", image, *(["--bundle", str(bundle)] if bundled else []))
    assert arguments["image"] == image
    assert arguments["mounts"] == (bundle_mounts(bundle) if bundled else [])


def test_text_gives_the_same_values_as_python_keyword_arguments(host):
    result = host.ok("sdk")
    assert keyword_arguments(result.stdout) == host.sdk_json()
    assert list(keyword_arguments(result.stdout)) == KEYS
    text = " ".join(result.stdout.split())
    assert "DockerSDK, SlurmSDK and KubernetesSDK all take image and env_vars" in text
    assert "KubernetesSDK's create_job has no mounts" in text


def test_text_with_bundle_says_kubernetes_needs_the_derived_image(host, bundle):
    result = host.ok("sdk", "--bundle", str(bundle))
    assert keyword_arguments(result.stdout) == host.sdk_json("--bundle", str(bundle))
    text = " ".join(result.stdout.split())
    assert "DockerSDK and SlurmSDK take mounts" in text
    assert "KubernetesSDK: create_job has no mounts, so the bundle cannot reach the pod: there it must be the derived image" in text
    assert "mounts replaces SLURM_CONTAINER_MOUNTS (default /lustre)" in text


def test_a_bad_image_is_refused_by_name(host):
    result = host.cli("sdk", "--json", "--image", "not-an-image")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("tao-sparse4d-fix sdk: error: --image 'not-an-image' is not REGISTRY/REPOSITORY:TAG")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("kind", ["missing", "empty", "other files"])
def test_a_folder_that_is_not_a_bundle_is_refused_by_name(host, tmp_path, kind):
    folder = "/nonexistent" if kind == "missing" else tmp_path / "not-a-bundle"
    if kind != "missing":
        folder.mkdir()
        if kind == "other files":
            (folder / "tao_sparse4d_fix.pth").write_text("import os\n")
    result = host.cli("sdk", "--json", "--bundle", str(folder))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    expected = "is not a folder" if kind == "missing" else "is not a bundle (it has no tao_sparse4d_fix_bundle.json)"
    assert result.stderr.startswith(f"tao-sparse4d-fix sdk: error: --bundle {folder} {expected}")


@pytest.mark.parametrize("bundled", [False, True])
def test_without_the_launcher_it_asks_for_the_image(host, bundle, tmp_path, bundled):
    # the installed plugin alone on sys.path (-S: no site-packages, so no nvidia-tao)
    shutil.copytree(host.site_packages() / "tao_sparse4d_fix", tmp_path / "alone" / "tao_sparse4d_fix")
    extra = ["--bundle", str(bundle)] if bundled else []
    result = host.cli("sdk", "--json", *extra, flags=["-S"], PYTHONPATH=str(tmp_path / "alone"))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "the TAO launcher (PyPI package nvidia-tao), whose map names the image, is not installed" in result.stderr
    assert "pass --image REGISTRY/REPOSITORY:TAG" in result.stderr
    assert (f"the stock TAO image the bundle is mounted into, e.g. {STOCK}" if bundled
            else f"the derived image you built, e.g. {DERIVED}") in result.stderr
    # given the image, it needs no launcher (and imports nothing outside the standard library)
    given = host.cli("sdk", "--json", "--image", DERIVED, *extra, flags=["-S"], PYTHONPATH=str(tmp_path / "alone"))
    assert given.returncode == 0, given.stderr
    assert json.loads(given.stdout) == {"image": DERIVED, "env_vars": ENABLED,
                                        "mounts": bundle_mounts(bundle) if bundled else []}
