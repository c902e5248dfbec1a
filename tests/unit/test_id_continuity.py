"""ID continuity at inference, against TAO's real InstanceBank and SparseBox3DDecoder.

Frames are driven as ``Sparse4DHead.forward`` drives the bank at inference:
``cache`` then ``get_instance_id(cls, anchor, score_threshold)``; queries
``0..num_temp_instances-1`` of a frame are the ones the bank carried.
"""
import dataclasses
import importlib

import numpy as np
import pytest
import torch

import tao_sparse4d_fix
from tao_sparse4d_fix.runtime import id_settings, run_log
from tao_sparse4d_fix.runtime.patches import instance_bank_ids
from tao_sparse4d_fix.runtime.patches._base import UnsupportedTaoCode

pytestmark = pytest.mark.per_release  # TAO's own InstanceBank, decoder and head

BANK = "nvidia_tao_pytorch.cv.sparse4d.model.instance_bank"
ANCHORS, TEMP, CLASSES, THRESHOLD = 8, 4, 2, 0.3
HIGH, LOW, NONE = 3.0, -3.0, -6.0  # logits: sigmoid 0.95 and 0.05, either side of THRESHOLD; other classes


@pytest.fixture
def bank_module():
    return importlib.import_module(BANK)


def new_bank(bank_module, gate):
    bank = bank_module.InstanceBank(num_anchor=ANCHORS, embed_dims=4, anchor=np.zeros((ANCHORS, 11)),
                                    num_temp_instances=TEMP)
    if gate:  # what the head patch does from the spec keys: ID continuity alone
        setattr(bank, id_settings.BANK_ATTRIBUTE, dataclasses.replace(id_settings.TAO_IDS, id_continuity_gate=gate))
    return bank


def frame(scores, classes, xy):
    """Logits [1, N, C] and anchors [1, N, 11] from per-query (score sign, class, centre)."""
    logits = torch.full((1, ANCHORS, CLASSES), NONE)
    anchor = torch.zeros((1, ANCHORS, 11))
    for q, (score, cls, (x, y)) in enumerate(zip(scores, classes, xy)):
        logits[0, q, cls] = score
        anchor[0, q, 0], anchor[0, q, 1] = x, y
    return logits, anchor


def step(bank, logits, anchor):
    """One inference frame as the head runs it: cache, then the IDs."""
    bank.cache(torch.zeros((1, ANCHORS, 4)), anchor, logits)
    return bank.get_instance_id(logits, anchor, THRESHOLD)[0].tolist()


FAR = (50.0, 50.0)
# Frame 1: queries 4 (class 0 at the origin) and 5 (class 1 at x=5) detected; the bank carries them.
FIRST = frame([LOW] * 4 + [HIGH, HIGH, LOW, LOW], [0] * 4 + [0, 1, 0, 0], [FAR] * 4 + [(0, 0), (5, 0), FAR, FAR])


def carried_slots(bank):
    return {int(i): q for q, i in enumerate(bank.instance_id[0].tolist()) if i >= 0}


def second_frame(bank):
    """The carried queries of IDs 0 and 1 sit at slots the bank chose: score them down, and put fresh
    detections (queries 4 and 5) next to them, each 0.4 m away, same classes."""
    slots = carried_slots(bank)
    assert set(slots) == {0, 1}
    scores, classes, xy = [LOW] * ANCHORS, [0] * ANCHORS, [FAR] * ANCHORS
    classes[slots[0]], xy[slots[0]] = 0, (0.0, 0.0)
    classes[slots[1]], xy[slots[1]] = 1, (5.0, 0.0)
    scores[4], classes[4], xy[4] = HIGH, 0, (0.4, 0.0)
    scores[5], classes[5], xy[5] = HIGH, 1, (5.0, 0.4)
    return frame(scores, classes, xy), slots


@pytest.mark.usefixtures("patched")
def test_a_fresh_detection_inherits_the_id_of_an_unshown_carried_query(bank_module):
    bank = new_bank(bank_module, gate=1.0)
    assert step(bank, *FIRST)[4:6] == [0, 1]
    (logits, anchor), slots = second_frame(bank)
    ids = step(bank, logits, anchor)
    assert ids[4:6] == [0, 1]  # TAO alone: 2 and 3
    assert ids[slots[0]] == ids[slots[1]] == -1  # each ID once in the frame
    assert int(bank.prev_id) == 2  # no ID was spent
    assert set(carried_slots(bank)) == {0, 1}  # the next frame carries the IDs on, with the detections


@pytest.mark.usefixtures("stock")
def test_stock_tao_gives_the_same_objects_fresh_ids(bank_module):
    bank = new_bank(bank_module, gate=1.0)  # the gate is read by the patch only
    step(bank, *FIRST)
    (logits, anchor), _ = second_frame(bank)
    assert step(bank, logits, anchor)[4:6] == [2, 3]


@pytest.mark.usefixtures("patched")
@pytest.mark.parametrize("gate, inherited", [(0.3, False), (0.4, True)])
def test_the_gate_is_a_ground_plane_distance(bank_module, gate, inherited):
    bank = new_bank(bank_module, gate=gate)
    step(bank, *FIRST)
    (logits, anchor), _ = second_frame(bank)
    anchor[0, :, 2] = torch.arange(ANCHORS, dtype=torch.float32) * 7  # height is not part of the distance
    ids = step(bank, logits, anchor)
    assert (ids[4:6] == [0, 1]) is inherited
    assert (ids[4:6] == [2, 3]) is not inherited


@pytest.mark.usefixtures("patched")
def test_another_class_does_not_inherit(bank_module):
    bank = new_bank(bank_module, gate=1.0)
    step(bank, *FIRST)
    (logits, anchor), _ = second_frame(bank)
    logits[0, 4] = logits[0, 4].flip(0)  # query 4 is now class 1, its carried neighbour class 0
    ids = step(bank, logits, anchor)
    assert ids[4] == 2 and ids[5] == 1


@pytest.mark.usefixtures("patched")
def test_a_shown_carried_query_keeps_its_id_and_lends_none(bank_module):
    bank = new_bank(bank_module, gate=1.0)
    step(bank, *FIRST)
    (logits, anchor), slots = second_frame(bank)
    logits[0, slots[0], 0] = HIGH  # ID 0's carried query is detected itself
    ids = step(bank, logits, anchor)
    assert ids[slots[0]] == 0 and ids[4] == 2 and ids[5] == 1


@pytest.mark.usefixtures("patched")
def test_closest_first_and_each_id_once(bank_module):
    bank = new_bank(bank_module, gate=1.0)
    step(bank, *FIRST)
    (logits, anchor), slots = second_frame(bank)
    free = next(q for q in range(ANCHORS) if q not in (4, 5, *slots.values()))
    logits[0, free, 0] = HIGH  # a second fresh class-0 detection, closer to ID 0's carried query
    anchor[0, free, :2] = torch.tensor([0.1, 0.0])
    ids = step(bank, logits, anchor)
    assert ids[free] == 0 and ids[4] == 2 and ids[5] == 1  # query 4 gets the one new ID
    assert int(bank.prev_id) == 3
    shown = [i for i, score in zip(ids, logits[0].max(-1).values.sigmoid()) if score >= THRESHOLD]
    assert len(shown) == len(set(shown))


def random_frames(seed, count=6):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(count):
        logits = torch.randn((1, ANCHORS, CLASSES), generator=generator) * 2
        anchor = torch.randn((1, ANCHORS, 11), generator=generator)
        yield logits, anchor


def run_sequence(bank_module, gate, seed):
    bank = new_bank(bank_module, gate)
    ids = [step(bank, logits, anchor) for logits, anchor in random_frames(seed)]
    return ids, int(bank.prev_id), bank.instance_id.tolist()


@pytest.mark.parametrize("seed", range(5))
def test_gate_zero_is_tao_exactly(bank_module, seed):
    tao_sparse4d_fix.uninstall()
    stock = run_sequence(bank_module, 0.0, seed)
    tao_sparse4d_fix.install()
    try:
        assert run_sequence(bank_module, 0.0, seed) == stock
    finally:
        tao_sparse4d_fix.uninstall()


def test_on_random_sequences_the_gate_acts_and_ids_stay_unique(bank_module):
    tao_sparse4d_fix.uninstall()
    stock = [run_sequence(bank_module, 0.0, seed) for seed in range(5)]
    tao_sparse4d_fix.install()
    try:
        with_gate = [run_sequence(bank_module, 2.0, seed) for seed in range(5)]
    finally:
        tao_sparse4d_fix.uninstall()
    assert sum(a != b for a, b in zip(stock, with_gate)) >= 3
    for (ids, prev_id, _), (_, stock_prev_id, _) in zip(with_gate, stock):
        assert prev_id <= stock_prev_id  # an inherited ID is one new ID fewer
        for frame_ids in ids:  # an ID is never held twice in a frame
            held = [i for i in frame_ids if i >= 0]
            assert len(held) == len(set(held))


@pytest.mark.usefixtures("patched")
def test_the_decoder_shows_the_inherited_ids(bank_module, decoder_module):
    bank = new_bank(bank_module, gate=1.0)
    step(bank, *FIRST)
    (logits, anchor), _ = second_frame(bank)
    bank.cache(torch.zeros((1, ANCHORS, 4)), anchor, logits)
    instance_id = bank.get_instance_id(logits, anchor, THRESHOLD)
    decoder = decoder_module.SparseBox3DDecoder(num_output=ANCHORS, score_threshold=THRESHOLD)
    boxes = torch.zeros((1, ANCHORS, 11))
    boxes[..., :2] = anchor[..., :2]
    (out,) = decoder.decode([logits], [boxes], instance_id=instance_id)
    shown = {(round(float(x), 1), round(float(y), 1)): int(i)
             for (x, y), i in zip(out["boxes_3d"][:, :2].tolist(), out["instance_ids"].tolist())}
    assert shown == {(0.4, 0.0): 0, (5.0, 0.4): 1}


@pytest.mark.once
@pytest.mark.parametrize("value", [-0.5, 10.5, float("nan"), float("inf"), "near", True])
def test_invalid_gates_are_refused_naming_the_value_and_the_range(value):
    with pytest.raises(id_settings.InvalidSetting) as raised:
        id_settings.CONTINUITY.validate(value)
    message = str(raised.value)
    assert f"model.head.instance_bank.id_continuity_gate={value!r} is not a valid value" in message
    assert f"valid values are numbers from 0 to 10 metres; the default is {id_settings.CONTINUITY.default}." in message


@pytest.mark.once
@pytest.mark.parametrize("value, gate", [(0, 0.0), ("1.5", 1.5), (10, 10.0)])
def test_valid_gates(value, gate):
    assert id_settings.CONTINUITY.validate(value) == gate


def build_head(experiment_config, gate):
    """TAO's own ``build_head`` on TAO's default config with the key set (the schema patch accepts it)."""
    from omegaconf import OmegaConf
    from nvidia_tao_pytorch.cv.sparse4d.model import sparse4d_head

    cfg = OmegaConf.structured(experiment_config)
    cfg.model.head.instance_bank.num_anchor = ANCHORS
    cfg.model.head.instance_bank.num_temp_instances = TEMP
    if gate is not None:
        cfg.model.head.instance_bank[id_settings.CONTINUITY.name] = gate
    return sparse4d_head.build_head(cfg)


@pytest.mark.usefixtures("patched")
@pytest.mark.parametrize("gate, expected", [(0.0, 0.0), (1.5, 1.5), (None, 0.0)])
def test_the_head_hands_the_spec_gate_to_its_bank(experiment_config, gate, expected):
    bank = build_head(experiment_config, gate).instance_bank  # None: the key left at the schema's default, 0 (off)
    settings = getattr(bank, id_settings.BANK_ATTRIBUTE, None)
    assert (settings.id_continuity_gate if settings else 0.0) == expected


@pytest.mark.usefixtures("patched")
def test_an_invalid_gate_stops_the_build(experiment_config):
    with pytest.raises(id_settings.InvalidSetting, match=r"id_continuity_gate=-1\.0 is not a valid value"):
        build_head(experiment_config, -1.0)


@pytest.mark.usefixtures("patched")
def test_a_gate_asked_for_without_the_bank_patch_stops_the_build(experiment_config, bank_module):
    instance_bank_ids.PATCH.revert(bank_module)
    with pytest.raises(UnsupportedTaoCode) as raised:
        build_head(experiment_config, 2.0)
    assert "model.head.instance_bank asks for id_continuity_gate=2.0" in str(raised.value)
    assert "InstanceBank.get_instance_id is not patched" in str(raised.value)


@pytest.mark.usefixtures("patched")
def test_the_default_gate_without_the_bank_patch_runs_with_tao_ids(experiment_config, bank_module, capsys):
    instance_bank_ids.PATCH.revert(bank_module)
    run_log._warned.clear()
    bank = build_head(experiment_config, None).instance_bank
    assert not hasattr(bank, id_settings.BANK_ATTRIBUTE)
    assert ("InstanceBank.get_instance_id not patched: the plugin's track IDs are off, TAO's own track IDs"
            in capsys.readouterr().err)
