"""``tao-sparse4d-fix ftms``: what it prints (the image from the installed launcher, the switch), what it refuses."""
import json

from ftmsjobs import DERIVED, ENABLED

IMAGE = "registry.example.com:5000/team/tao-toolkit:6.26.3-pyt-sparse4d-fix"


def test_json_is_the_derived_image_and_the_switch(host):
    result = host.ok("ftms", "--json")
    assert result.stdout == json.dumps({"IMAGE_TAO_PYTORCH": DERIVED, "docker_env_vars": ENABLED}) + "\n"
    assert result.stderr == ""


def test_the_image_is_the_one_sdk_names(host):
    """One home for the image and the switch: ``sdk`` decides both, ``ftms`` only renames them."""
    for extra in ([], ["--image", IMAGE]):
        ftms = json.loads(host.ok("ftms", "--json", *extra).stdout)
        sdk = json.loads(host.ok("sdk", "--json", *extra).stdout)
        assert (ftms["IMAGE_TAO_PYTORCH"], ftms["docker_env_vars"]) == (sdk["image"], sdk["env_vars"])


def test_text_gives_both_parts_with_the_same_values(host):
    text = host.ok("ftms", "--image", IMAGE).stdout
    assert f"\n    IMAGE_TAO_PYTORCH={IMAGE}\n" in text
    assert '\n    docker_env_vars={"TAO_SPARSE4D_FIX": "1"}\n' in text
    flat = " ".join(text.split())
    assert "Admin, once: the service's IMAGE_TAO_PYTORCH" in flat
    assert "User, per experiment: TAO_SPARSE4D_FIX in the job's environment" in flat
    assert "Helm:" in flat and "Docker Compose:" in flat
    assert ('"Invalid enum member TAO_SPARSE4D_FIX", nvidia-tao-core 6.26.3 to 7.3.0), so the TAO Client call that would '
            'set it, tao sparse4d create-job --kind experiment ... --env TAO_SPARSE4D_FIX=1, is refused') in flat
    assert f"docker run --rm {IMAGE} python -m tao_sparse4d_fix doctor" in flat


def test_a_bad_image_is_refused_by_name(host):
    result = host.cli("ftms", "--json", "--image", "not-an-image")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("tao-sparse4d-fix ftms: error: --image 'not-an-image' is not REGISTRY/REPOSITORY:TAG")
    assert result.stderr.count("\n") == 1


def test_without_the_launcher_it_asks_for_the_image(host, tmp_path):
    import shutil
    shutil.copytree(host.site_packages() / "tao_sparse4d_fix", tmp_path / "alone" / "tao_sparse4d_fix")
    result = host.cli("ftms", "--json", flags=["-S"], PYTHONPATH=str(tmp_path / "alone"))
    assert result.returncode == 1 and result.stdout == "" and result.stderr.count("\n") == 1
    assert result.stderr.startswith("tao-sparse4d-fix ftms: error: the TAO launcher (PyPI package nvidia-tao)")
    assert f"pass --image REGISTRY/REPOSITORY:TAG, the derived image you built, e.g. {DERIVED}" in result.stderr
    given = host.cli("ftms", "--json", "--image", IMAGE, flags=["-S"], PYTHONPATH=str(tmp_path / "alone"))
    assert given.returncode == 0, given.stderr
    assert json.loads(given.stdout) == {"IMAGE_TAO_PYTORCH": IMAGE, "docker_env_vars": ENABLED}
