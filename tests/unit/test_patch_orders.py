"""Every patch through every order, from one shared test (ddtrace's ``tests/contrib/patch.py``).

Each patch of ``patches.ALL``, through its contract: applied twice, reverted
twice, reverted before it was applied. The whole plugin: install, uninstall,
install again, with each side component switched off in turn, and TAO imported
before or after ``install()`` in a fresh interpreter. After every revert and
uninstall, every name in the patched class's namespace holds TAO's own object
again (compared by identity), and stock TAO's behaviour is back: its schema
refuses the spec key and its FocalLoss computes its stock value. While
installed, each mode, set through TAO's schema and SetCriterion, computes what
it must. Runs on every TAO release the unit tests run on (TSF_TEST_TAO).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import patch_orders
import tao_sparse4d_fix
from patch_orders import differences, module_of, owner_of, owners, snapshot
from tao_sparse4d_fix import switches
from tao_sparse4d_fix.runtime import criterion_state, modes, status
from tao_sparse4d_fix.runtime.patches import ALL, COMPONENTS

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)

CHILD = Path(__file__).with_name("patch_orders_child.py")


@pytest.fixture
def clean():
    tao_sparse4d_fix.uninstall()
    yield
    tao_sparse4d_fix.uninstall()


@pytest.fixture(params=ALL, ids=[patch.qualname for patch in ALL])
def target(request, clean):
    """(patch, its TAO module, the class it changes, that class's stock namespace)."""
    patch = request.param
    module = module_of(patch)
    owner = owner_of(patch, module)
    return patch, module, owner, snapshot(owner)


def apply(patch, module):
    patch.apply(module, patch.recognise(module))


def test_apply_twice_changes_the_target_once(target):
    patch, module, owner, stock = target
    assert not patch.is_applied(module) and patch.recognise(module).known
    apply(patch, module)
    once = snapshot(owner)
    assert patch.is_applied(module) and differences(owner, stock)
    apply(patch, module)
    assert patch.is_applied(module) and differences(owner, once) == []
    patch.revert(module)
    assert not patch.is_applied(module) and differences(owner, stock) == []


def test_revert_twice_leaves_stock(target):
    patch, module, owner, stock = target
    apply(patch, module)
    patch.revert(module)
    patch.revert(module)
    assert not patch.is_applied(module) and differences(owner, stock) == []


def test_revert_before_apply_changes_nothing_and_apply_still_works(target):
    patch, module, owner, stock = target
    patch.revert(module)
    assert not patch.is_applied(module) and differences(owner, stock) == []
    apply(patch, module)
    assert patch.is_applied(module)
    patch.revert(module)
    assert differences(owner, stock) == []


def assert_modes(values):
    assert set(values) == set(modes.MODES)
    for mode, (got, value, expected) in values.items():
        assert got == mode
        if mode == modes.ORIGINAL:
            assert value == expected  # TAO's own code, called untouched
        else:
            assert value == pytest.approx(expected, rel=1e-5), mode


def assert_stock(stock, stock_behaviour):
    assert {target: differences(owner, stock[target]) for target, owner in owners().items()} == {t: [] for t in stock}
    refused, state, value = patch_orders.stock_state()
    assert (refused, state, value) == stock_behaviour
    assert status.rows() == [] and criterion_state.contract().verdict == ""


@pytest.mark.parametrize("disabled", [None, *COMPONENTS])
def test_install_uninstall_install_in_each_mode(clean, monkeypatch, disabled):
    stock = {target: snapshot(owner) for target, owner in owners().items()}
    stock_behaviour = patch_orders.stock_state()
    assert stock_behaviour[0] and stock_behaviour[1] is None  # stock TAO's schema refuses the key
    if disabled:
        monkeypatch.setenv(switches.DISABLE, disabled)
    for _ in range(2):
        tao_sparse4d_fix.install()
        assert patch_orders.applied() == {patch.target(module.__name__): patch.component is None or patch.component != disabled
                                          for patch, module in patch_orders.targets()}
        assert_modes(patch_orders.mode_values())
        tao_sparse4d_fix.uninstall()
        assert_stock(stock, stock_behaviour)


@pytest.mark.parametrize("order", ["import-first", "install-first"])
def test_tao_imported_before_or_after_install(clean, order):
    stock_behaviour = patch_orders.stock_state()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAO_SPARSE4D_FIX")}  # the .pth stays inert
    result = subprocess.run([sys.executable, str(CHILD), order], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    found = json.loads([line for line in result.stdout.splitlines() if line.startswith("RESULT=")][-1][7:])
    every = [patch.target(module.__name__) for patch, module in patch_orders.targets()]
    assert found["applied"] == found["reinstalled"] == dict.fromkeys(every, True)
    assert found["after_uninstall"] == dict.fromkeys(every, False)
    assert found["changed"] == found["changed_again"] == {target: [] for target in every}
    assert found["stock"] == [stock_behaviour[0], stock_behaviour[2]]
    for values in (found["modes"], found["modes_again"]):
        assert_modes({mode: tuple(value) for mode, value in values.items()})
