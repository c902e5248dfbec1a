"""TAO's temporal alignment (``use_temporal_align``) repaired: the rule for its three flags, each
stock defect (the same test body fails on stock TAO and passes with the plugin), real training
steps over an empty frame and a scene change in every mode, and stock behaviour when it is off."""
import importlib
import math

import pytest
import torch

import tao_sparse4d_fix
import temporal_frames
from tao_sparse4d_fix.errors import PluginError
from tao_sparse4d_fix.runtime import modes, temporal_align
from tao_sparse4d_fix.runtime.temporal_align import BANK, SAMPLER, SWITCH, ContradictoryAlignment

pytestmark = pytest.mark.per_release  # runs on every TAO release (tests/unit/conftest.py)

TARGET = "nvidia_tao_pytorch.cv.sparse4d.model.detection3d.target"
MODE_KEY = modes.CONFIG_KEY


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    return temporal_frames.make_spec(tmp_path_factory.mktemp("temporal"))[0]


@pytest.fixture(scope="module")
def frames(spec):
    return temporal_frames.frames(temporal_frames.config(spec))


@pytest.fixture(params=["patched", "stock"])
def tao(request):
    """The same test body with the plugin installed and on stock TAO."""
    tao_sparse4d_fix.uninstall()
    if request.param == "patched":
        tao_sparse4d_fix.install()
    yield request.param
    tao_sparse4d_fix.uninstall()


@pytest.fixture
def patched():
    tao_sparse4d_fix.install()
    yield
    tao_sparse4d_fix.uninstall()


def passes_only_with_the_plugin(tao, body, stock_error, stock_message=""):
    """Run ``body``: it must pass with the plugin and fail on stock TAO with ``stock_error``."""
    if tao == "patched":
        return body()
    with pytest.raises(stock_error) as raised:
        body()
    assert stock_message in str(raised.value)


def built(spec, seed=0, **values):
    torch.manual_seed(seed)
    pl_model = temporal_frames.build(temporal_frames.config(spec, **values))
    return pl_model, temporal_frames.optimiser(pl_model)


def finite(losses, grads):
    """Every loss TAO sums (not the diagnostics scalars) and every gradient is finite."""
    return (all(math.isfinite(value) for key, value in losses.items() if "loss" in key)
            and all(bool(g.isfinite().all()) for g in grads))


# ---------------------------------------------------------------- the rule

def model_node(experiment_config, **flags):
    from omegaconf import OmegaConf

    cfg = OmegaConf.structured(experiment_config)
    for key, value in flags.items():
        OmegaConf.update(cfg, key, value, merge=False)
    return cfg.model


def test_default_flags_leave_alignment_off(experiment_config):
    assert temporal_align.decide(model_node(experiment_config)) == temporal_align.Alignment(False, 0.5)


def test_the_switch_alone_turns_it_on_with_the_spec_gate(experiment_config):
    node = model_node(experiment_config, **{SWITCH: True, "model.head.sampler.gt_assign_threshold": 0.3})
    assert temporal_align.decide(node) == temporal_align.Alignment(True, 0.3)
    node = model_node(experiment_config, **{SWITCH: True, BANK: True, SAMPLER: True})
    assert temporal_align.decide(node).on


@pytest.mark.parametrize("followers", [(BANK,), (SAMPLER,), (BANK, SAMPLER)])
def test_a_follower_on_while_the_switch_is_off_is_refused_naming_the_keys(experiment_config, followers):
    with pytest.raises(ContradictoryAlignment) as raised:
        temporal_align.decide(model_node(experiment_config, **dict.fromkeys(followers, True)))
    assert isinstance(raised.value, PluginError) and isinstance(raised.value, ValueError)
    message = str(raised.value)
    for key in followers:
        assert f"{key}=true" in message and f"{key}=false" in message
    assert f"but {SWITCH}=false" in message and f"Set {SWITCH}=true to train with it" in message


def test_a_contradiction_stops_tao_building_the_model(spec, patched):
    with pytest.raises(ContradictoryAlignment) as raised:
        built(spec, **{BANK: True})
    assert f"{BANK}=true but {SWITCH}=false" in str(raised.value)


# ---------------------------------------------------------------- the four stock defects, and two more

def test_every_carried_object_gone_keeps_nothing(tao):
    """Defect 3, the issue's reproduction: the carried pair's object (5) is not in this frame (7, 8)."""
    mapping = [{3: [0, 5]}]

    def body():
        target = importlib.import_module(TARGET).SparseBox3DTarget(use_temporal_align=True)
        found = target._get_mapped_query_gt_indices(1, mapping, [torch.tensor([7, 8])], update_gt_indices=True)
        assert found == ([None], [None]) and mapping == [{}]  # TAO's own answer for a slot with nothing carried

    passes_only_with_the_plugin(tao, body, IndexError, "too many indices for array")


def test_some_carried_objects_gone_is_stock(patched):
    target = importlib.import_module(TARGET).SparseBox3DTarget(use_temporal_align=True)
    mapping = [{3: [0, 5], 4: [1, 8]}, {}]
    found = target._get_mapped_query_gt_indices(2, mapping, [torch.tensor([7, 8]), torch.tensor([1])],
                                                update_gt_indices=True)
    stock = vars(type(target))["_get_mapped_query_gt_indices"].__wrapped__
    again = [{3: [0, 5], 4: [1, 8]}, {}]
    assert found == stock(target, 2, again, [torch.tensor([7, 8]), torch.tensor([1])], update_gt_indices=True)
    assert found == ([[4], None], [[1], None]) and mapping == again == [{4: [1, 8]}, {}]


def test_a_frame_without_objects_matches_nothing(tao):
    """With alignment on, a slot without objects must give an empty dict of pairs, which the next layer reads."""
    target = importlib.import_module(TARGET).SparseBox3DTarget(use_temporal_align=True)
    cls, box = torch.zeros(1, 6, 2), torch.zeros(1, 6, 10)
    empty = ([torch.zeros(0, dtype=torch.long)], [torch.zeros(0, 10)], [torch.zeros(0, dtype=torch.long)])

    def body():
        pairs = target.sample(cls, box, *empty, update_gt_index_mapping=True)[-1]  # a first frame
        after = target.sample(cls, box, *empty, gt_mapping_prev=pairs, use_hungarian_only=False,
                              update_gt_indices=True, update_gt_index_mapping=True)[-1]  # the next layer
        assert pairs == after == [{}]

    passes_only_with_the_plugin(tao, body, AttributeError, "'NoneType' object has no attribute 'keys'")


def test_the_switch_alone_trains(spec, frames, tao):
    """Defect 2: only model.use_temporal_align=true; stock's bank never records its carried queries."""
    pl_model, optimiser = built(spec, **{SWITCH: True})

    def body():
        losses, total, grads = temporal_frames.step(pl_model, optimiser, frames.batch((0, 0)))
        assert finite(losses, grads) and float(total.detach()) > 0

    passes_only_with_the_plugin(tao, body, TypeError, "object of type 'NoneType' has no len()")


def test_the_matcher_gets_the_spec_gate(spec, tao):
    """Defect 4: a carried pair costing 0.4 is kept under TAO's default gate 0.5, released under the spec's 0.3."""
    pl_model, _ = built(spec, **{SWITCH: True, "model.head.sampler.gt_assign_threshold": 0.3})
    cost = torch.full((3, 2), 2.0).numpy()
    cost[1, 0] = 0.4

    def body():
        kept = pl_model.criterion.sampler._update_cost_matrix(cost.copy(), [1], [0])
        assert kept == ([], [])

    passes_only_with_the_plugin(tao, body, AssertionError)


def test_a_slot_entering_a_new_scene_forgets_its_pairs(spec, frames, tao):
    """Defect 1: batch of 2, slot 0 goes from scene 0 to scene 2, slot 1 stays in scene 1. All three flags on
    (stock runs them); after the head's forward the criterion must not see slot 0's old pairs."""
    pl_model, optimiser = built(spec, seed=1, **{SWITCH: True, BANK: True, SAMPLER: True})
    bank = pl_model.model.head.instance_bank
    for frame in (0, 1):  # two frames: 6.25-7.2's bank forgets the data indices at its first frame
        temporal_frames.step(pl_model, optimiser, frames.batch((0, frame), (1, frame)))
    carried = bank.get_gt_index_mapping()
    assert carried[0] and carried[1], carried  # the test needs pairs to forget (and to keep)
    batch = frames.batch((2, 0), (1, 2))

    def body():
        pl_model.train()
        with torch.no_grad():
            pl_model.model(batch["img"].float(), batch)
        mapping = bank.get_gt_index_mapping()
        assert mapping is None or mapping[0] == {}  # 6.25-7.2 forget every slot; 7.3.0 only the changed one

    passes_only_with_the_plugin(tao, body, AssertionError)


# ---------------------------------------------------------------- training with it, and without it

@pytest.mark.parametrize("mode", modes.MODES)
def test_alignment_trains_over_vanishing_objects_and_a_scene_change(spec, frames, patched, mode):
    """Real steps (forward, loss, backward, TAO's optimiser) with model.use_temporal_align=true alone:
    frame 2 of scene 0 holds no object (every carried object is gone), then scene 1 begins."""
    pl_model, optimiser = built(spec, **{SWITCH: True, MODE_KEY: mode})
    bank = pl_model.model.head.instance_bank
    for scene, frame in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]:
        batch = frames.batch((scene, frame))
        present = set(batch["instance_id"][0].tolist())
        losses, total, grads = temporal_frames.step(pl_model, optimiser, batch)
        assert finite(losses, grads), (scene, frame, losses)
        if present or mode != modes.ORIGINAL:  # TAO's own loss supervises nothing in a frame without objects
            assert any(bool(g.abs().sum() > 0) for g in grads)
        carried = {instance_id for _, instance_id in bank.get_gt_index_mapping()[0].values()}
        assert carried <= present, (scene, frame)  # only this frame's objects are carried on
        if frame == 2:
            assert not present and carried == set()
        else:
            assert present and float(total.detach()) > 0


def test_off_is_stock_bit_for_bit(spec, frames):
    """Flags all false (TAO's default): losses and gradients equal stock TAO's exactly, over the same frames
    (a first frame, a carried one, a scene change; frames with objects, where the plugin's other side patches
    change nothing and ``original`` runs TAO's own loss)."""
    runs = {}
    for arm in ("stock", "patched"):
        tao_sparse4d_fix.uninstall()
        if arm == "patched":
            tao_sparse4d_fix.install()
        pl_model, optimiser = built(spec, **({MODE_KEY: modes.ORIGINAL} if arm == "patched" else {}))
        runs[arm] = []
        for index, slots in enumerate([(0, 0), (0, 1), (1, 0)]):
            torch.manual_seed(100 + index)  # the denoising noise
            losses, _, grads = temporal_frames.step(pl_model, optimiser, frames.batch(slots))
            assert finite(losses, grads)  # so that equal means something
            runs[arm].append((losses, [g.clone() for g in grads]))
    tao_sparse4d_fix.uninstall()
    for (stock_losses, stock_grads), (losses, grads) in zip(runs["stock"], runs["patched"]):
        assert {key: losses[key] for key in stock_losses} == stock_losses
        assert len(grads) == len(stock_grads) and all(torch.equal(a, b) for a, b in zip(grads, stock_grads))
