"""Activation in a process started the way TAO's launcher starts ``train.py``.

TAO's entry point runs ``subprocess.Popen("python train.py", shell=True)`` with
the environment inherited, so the plugin must come up from the ``.pth`` alone
in whatever ``python`` is first on PATH. A throwaway package named
``nvidia_tao_core.config.sparse4d`` stands in for TAO's Sparse4D: the sentinel only looks at the name.
"""
import json
import os
import subprocess

import pytest

LAUNCHER = r"""
import subprocess, sys
# As TAO's launcher does it: a shell command line, the environment inherited.
proc = subprocess.Popen("python train.py", shell=True)
sys.exit(proc.wait())
"""

TRAIN = r"""
import json, sys
def sentinels():
    return sum(type(f).__name__ == "_FirstTaoImport" for f in sys.meta_path)
before = {
    "sentinels": sentinels(),
    "wrapt": "wrapt" in sys.modules,
    "registry": "tao_sparse4d_fix.runtime.registry" in sys.modules,
}
import nvidia_tao_core.config.sparse4d
registry = sys.modules.get("tao_sparse4d_fix.runtime.registry")
after = {
    "sentinels": sentinels(),
    "wrapt": "wrapt" in sys.modules,
    "registry": registry is not None,
    "state": registry and {k: getattr(registry._state, k) for k in ("installed", "enabled", "refusal")},
    "hooked": registry and sorted(
        name for name in registry.module_names()
        if any(h is registry._on_import for h in sys.modules["wrapt.importer"]._post_import_hooks.get(name) or [])
    ),
    "names": registry and registry.module_names(),
}
print(json.dumps({
    "before": before, "after": after, "executable": sys.executable, "stub": nvidia_tao_core.__file__,
    "plugin": sys.modules["tao_sparse4d_fix"].__file__,
}))
"""


@pytest.fixture()
def workdir(tmp_path):
    (tmp_path / "launcher.py").write_text(LAUNCHER)
    (tmp_path / "train.py").write_text(TRAIN)
    return tmp_path


def launch(children, workdir, stub_tao, value):
    bin_dir = children.python.parent
    env = children.env_for(value, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONPATH=str(stub_tao))
    # The launcher itself is started through the shell as well, so both levels
    # find `python` on PATH: the venv's.
    proc = subprocess.run("python launcher.py", shell=True, cwd=workdir, env=env, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr == b"", proc.stderr.decode()
    return json.loads(proc.stdout)


@pytest.mark.parametrize("value", ["1", "true", " On "], ids=repr)
def test_launched_child_hands_over_on_first_tao_import(children, workdir, stub_tao, value):
    out = launch(children, workdir, stub_tao, value)
    assert out["executable"] == str(children.python)  # `python` resolved to the venv through PATH
    assert out["plugin"].startswith(str(children.plugin_env.site_packages) + "/")
    assert out["stub"].startswith(str(stub_tao))
    # At start: armed, nothing heavy.
    assert out["before"] == {"sentinels": 1, "wrapt": False, "registry": False}
    # After the first TAO import: the sentinel is gone, the registry is enabled
    # and has a wrapt post-import hook on every TAO module it patches.
    after = out["after"]
    assert after["sentinels"] == 0
    assert after["wrapt"] is True and after["registry"] is True
    assert after["state"] == {"installed": True, "enabled": True, "refusal": None}
    assert after["names"] and after["hooked"] == after["names"]


def test_launched_child_without_the_switch_stays_stock(children, workdir, stub_tao):
    bin_dir = children.python.parent
    env = children.env_for(None, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONPATH=str(stub_tao))
    train = workdir / "train.py"
    train.write_text(
        "import json, sys\nimport nvidia_tao_core.config.sparse4d\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('tao_sparse4d_fix', 'wrapt')))))\n"
    )
    proc = subprocess.run("python launcher.py", shell=True, cwd=workdir, env=env, capture_output=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr.decode()
    assert json.loads(proc.stdout) == []


OTHER_NETWORK = r"""
import json, sys
import nvidia_tao_core, nvidia_tao_core.config  # TAO, but not its Sparse4D: another network's imports
first = {"sentinels": sum(type(f).__name__ == "_FirstTaoImport" for f in sys.meta_path),
         "loaded": sorted(m for m in sys.modules if m.startswith("tao_sparse4d_fix.runtime") or m == "wrapt")}
import nvidia_tao_core.config.sparse4d
print(json.dumps({"first": first, "sentinels": sum(type(f).__name__ == "_FirstTaoImport" for f in sys.meta_path),
                  "registry": "tao_sparse4d_fix.runtime.registry" in sys.modules}))
"""


def test_another_tao_network_keeps_the_plugin_asleep(children, stub_tao):
    """The sentinel hands over on TAO's Sparse4D packages only: importing the rest of TAO loads nothing of ours."""
    out, err = children.json(OTHER_NETWORK, "1", PYTHONPATH=str(stub_tao))
    assert err == ""
    assert out["first"] == {"sentinels": 1, "loaded": []}
    assert out["sentinels"] == 0 and out["registry"] is True
