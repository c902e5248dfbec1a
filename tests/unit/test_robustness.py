"""The plugin's failure paths (issue 31 item 4): TAO's exceptions pass through side patches untouched, and
temporal alignment's head flag is never set without the patch it needs.

The bank's counter written last, or left as TAO left it when the plugin's code raises, is in test_tracker.py
(``test_a_failure_in_the_plugin_leaves_tao_ids_and_counter``)."""
import importlib

import pytest

import temporal_frames
from tao_sparse4d_fix.runtime.patches import _base, head_forward
from tao_sparse4d_fix.runtime.temporal_align import SWITCH


class TaoError(Exception):
    pass


def stock_that_raises_from():
    try:
        {}["missing"]
    except KeyError as error:
        raise TaoError("TAO's own failure") from error


@pytest.mark.once
def test_a_side_patch_passes_tao_s_exception_on_with_its_cause():
    def wrapper(wrapped, instance, args, kwargs):
        return wrapped(*args, **kwargs)

    guarded = _base._falls_back_to_stock(wrapper, "some.Target.method")
    with pytest.raises(TaoError) as raised:
        guarded(stock_that_raises_from, None, (), {})
    assert isinstance(raised.value.__cause__, KeyError)  # 'raise ... from error' inside TAO: the cause kept
    assert raised.value.__context__ is raised.value.__cause__  # nothing of the plugin's chained in between


@pytest.mark.once
def test_a_side_patch_whose_own_code_fails_gives_the_stock_result_once():
    calls = []

    def stock(x):
        calls.append(x)
        return x * 2

    def wrapper(wrapped, instance, args, kwargs):
        wrapped(*args, **kwargs)
        raise RuntimeError("the plugin's own bug")

    guarded = _base._falls_back_to_stock(wrapper, "some.Target.method")
    assert guarded(stock, None, (3,), {}) == 6 and calls == [3]  # the stock call is not run twice
    assert guarded(stock, None, (4,), {}) == 8 and calls == [3, 4]  # and stock from then on


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    return temporal_frames.make_spec(tmp_path_factory.mktemp("robustness"))[0]


@pytest.mark.per_release
@pytest.mark.usefixtures("patched")
def test_alignment_is_refused_when_the_head_forward_patch_is_not_applied(spec):
    head_module = importlib.import_module(head_forward.PATCH.modules[0])
    head_forward.PATCH.revert(head_module)
    with pytest.raises(_base.UnsupportedTaoCode) as raised:
        temporal_frames.build(temporal_frames.config(spec, **{SWITCH: True}))
    assert f"{SWITCH}=true needs" in str(raised.value) and "Sparse4DHead.forward patched" in str(raised.value)
