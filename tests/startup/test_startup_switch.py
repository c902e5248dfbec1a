"""What ``TAO_SPARSE4D_FIX`` does to a plain interpreter start (no TAO involved)."""
import json
import re

import pytest

OFF = [None, "", " ", "\t\n", "0", "false", "off", " OFF ", "False", "FALSE", "Off", "\t0\n", " false\t"]
ON = ["1", "true", "on", "TRUE", "On", " 1 ", "\ttrue\n", " ON "]
INVALID = ["yes", "2", "enable", "offf", "o n", "ja'\"\\;$(x)", "ＯＦＦ"]
# Never imported at interpreter start, whatever the value: heavy or TAO
# packages, and the plugin's own registry (which imports wrapt).
FORBIDDEN_TOP = {"torch", "numpy", "wrapt", "nvidia_tao_pytorch", "nvidia_tao_core"}
FORBIDDEN_PLUGIN = ("tao_sparse4d_fix.runtime.registry", "tao_sparse4d_fix.runtime.patches")


def forbidden(modules):
    return sorted(m for m in modules if m.split(".")[0] in FORBIDDEN_TOP or m.startswith(FORBIDDEN_PLUGIN))


# ----------------------------------------------------------------- 1. off values


@pytest.mark.parametrize("value", OFF, ids=repr)
def test_off_values_leave_no_sentinel_and_import_nothing_heavy(children, value):
    probe = children.probe(value)
    assert children.sentinel_count(probe) == 0, probe["meta_path"]
    assert forbidden(probe["modules"]) == []


@pytest.mark.parametrize("value", OFF, ids=repr)
def test_off_values_do_not_import_the_plugin_at_all(children, value):
    probe = children.probe(value)
    assert not any(m == "tao_sparse4d_fix" or m.startswith("tao_sparse4d_fix.") for m in probe["modules"])


# ----------------------------------------------------------------- 2. on values


@pytest.mark.parametrize("value", ON, ids=repr)
def test_on_values_arm_the_sentinel_and_import_nothing_heavy(children, baseline, value):
    probe = children.probe(value)
    assert children.sentinel_count(probe) == 1, probe["meta_path"]
    assert forbidden(probe["modules"]) == []
    # It is the installed plugin, loaded by the .pth, not some source tree.
    assert probe["plugin_file"].startswith(str(children.plugin_env.site_packages) + "/"), probe["plugin_file"]
    # All the plugin adds at start is its own bootstrap: no stdlib or third-party module.
    added = sorted(set(probe["modules"]) - set(baseline["modules"]))
    assert added and all(m == "tao_sparse4d_fix" or m.startswith("tao_sparse4d_fix.") for m in added), added
    assert set(added) <= {"tao_sparse4d_fix", "tao_sparse4d_fix._version", "tao_sparse4d_fix._bootstrap",
                          "tao_sparse4d_fix.switches"}, added


def test_unset_baseline_has_no_plugin_trace(baseline, children):
    assert children.sentinel_count(baseline) == 0
    assert not any(m.startswith("tao_sparse4d_fix") for m in baseline["modules"])
    assert baseline["plugin_file"] is None


@pytest.mark.parametrize("value", INVALID, ids=repr)
def test_invalid_values_start_silently_with_the_sentinel(children, value):
    # probe() also asserts rc 0 and an empty stderr
    probe = children.probe(value)
    assert children.sentinel_count(probe) == 1
    assert forbidden(probe["modules"]) == []


# ----------------------------------------------------------------- 5. idempotence

IDEMPOTENCE = r"""
import json, sys
from tao_sparse4d_fix import _bootstrap
def sentinels():
    return sum(isinstance(f, _bootstrap._FirstTaoImport) for f in sys.meta_path)
counts = [sentinels()]
_bootstrap.activate(); counts.append(sentinels())
_bootstrap.activate(); counts.append(sentinels())
_bootstrap.activate({"TAO_SPARSE4D_FIX": "1"}); counts.append(sentinels())
_bootstrap.activate({"TAO_SPARSE4D_FIX": "on"}); counts.append(sentinels())
_bootstrap.activate({"TAO_SPARSE4D_FIX": "not-a-value"}); counts.append(sentinels())
before_tao = {"wrapt": "wrapt" in sys.modules, "registry": "tao_sparse4d_fix.runtime.registry" in sys.modules}

import wrapt, wrapt.importer
calls = []
_register = wrapt.register_post_import_hook
def counting(hook, name):
    calls.append(name)
    return _register(hook, name)
wrapt.register_post_import_hook = counting

import nvidia_tao_core.config.sparse4d  # the sentinel hands over: hooks registered once
after_handover = len(calls)
from tao_sparse4d_fix.runtime import registry
registry.install()
registry.install()
_bootstrap.activate()          # TAO already imported: goes straight to registry.install()
_bootstrap.activate()
import tao_sparse4d_fix
tao_sparse4d_fix.install()
hooks = {name: sum(h is registry._on_import for h in wrapt.importer._post_import_hooks.get(name) or [])
         for name in registry.module_names()}
print(json.dumps({
    "counts": counts, "before_tao": before_tao, "after_handover": after_handover, "calls": calls,
    "names": registry.module_names(), "hooks": hooks, "sentinels_after": sentinels(),
    "state": {k: getattr(registry._state, k) for k in ("installed", "enabled")},
}))
"""


def test_activate_twice_leaves_one_sentinel_and_install_twice_registers_once(children, stub_tao):
    out, err = children.json(IDEMPOTENCE, "1", PYTHONPATH=str(stub_tao))
    assert err == ""
    assert out["counts"] == [1, 1, 1, 1, 1, 1]
    assert out["before_tao"] == {"wrapt": False, "registry": False}
    names = out["names"]
    assert names, "the registry targets no module"
    # One registration per TAO module, all made at the handover; none by the later calls.
    assert out["after_handover"] == len(names)
    assert sorted(out["calls"]) == sorted(names)
    assert out["hooks"] == {name: 1 for name in names}
    assert out["sentinels_after"] == 0
    assert out["state"] == {"installed": True, "enabled": True}


REGISTRY_ONLY = r"""
import json, sys
import wrapt, wrapt.importer
calls = []
_register = wrapt.register_post_import_hook
wrapt.register_post_import_hook = lambda hook, name: (calls.append(name), _register(hook, name))[1]
from tao_sparse4d_fix.runtime import registry
registry.install()
first = len(calls)
registry.install()
registry.install_refusal("x")
print(json.dumps({"first": first, "total": len(calls), "names": registry.module_names()}))
"""


def test_registry_install_twice_registers_hooks_once_without_the_switch(children):
    out, err = children.json(REGISTRY_ONLY, None)
    assert err == ""
    assert out["first"] == len(out["names"]) > 0
    assert out["total"] == out["first"]


# ----------------------------------------------------------------- 6. invalid value + TAO

REFUSAL = r"""
import json, sys
import nvidia_tao_core.config.sparse4d
reg = sys.modules.get("tao_sparse4d_fix.runtime.registry")
print(json.dumps({
    "stub": nvidia_tao_core.STUB,
    "wrapt": "wrapt" in sys.modules,
    "sentinels": sum(type(f).__name__ == "_FirstTaoImport" for f in sys.meta_path),
    "state": reg and {k: getattr(reg._state, k) for k in ("installed", "enabled", "refusal")},
}))
"""


@pytest.mark.parametrize("value", ["yes", "2", " enable ", "ja'\"\\;$(x)", "ＯＦＦ", "tru e"], ids=repr)
def test_invalid_value_refusal_names_bad_and_valid_values(children, stub_tao, value):
    proc = children.run(REFUSAL, value, PYTHONPATH=str(stub_tao))
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr == b""  # start-up and the stub's import are silent
    out = json.loads(proc.stdout)
    assert out["stub"] is True  # importing (a module named like) TAO works
    assert out["wrapt"] is True and out["sentinels"] == 0
    state = out["state"]
    assert state["installed"] is True  # hooks are registered, so the criterion import can be refused
    assert state["enabled"] is False  # nothing will be patched
    refusal = state["refusal"]
    assert repr(value) in refusal
    rest = refusal.replace(repr(value), " ")
    for valid in ("1", "true", "on", "0", "false", "off"):
        assert re.search(rf"(?<![\w]){valid}(?![\w])", rest), (valid, refusal)
    assert "TAO_SPARSE4D_FIX" in rest


# ----------------------------------------------------------------- the .pth's inline copy


def test_pth_inline_off_values_agree_with_switches():
    """The .pth cannot import to read the off values, so it holds a copy: the same values."""
    import ast
    import importlib.util
    import re

    from conftest import PTH, REPO

    line = (REPO / PTH).read_text()
    inline = ast.literal_eval(re.search(r"not in (\(.*?\))", line).group(1))
    spec = importlib.util.spec_from_file_location("switches_under_test", REPO / "tao_sparse4d_fix" / "switches.py")
    switches = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(switches)
    assert inline == switches.OFF_VALUES
    assert f"os.environ.get(\"{switches.ENABLE}\")" in line and f"os.environ['{switches.ENABLE}']" in line
