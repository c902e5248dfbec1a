"""The tracker's life cycle (model.head.instance_bank.track_*) against TAO's real InstanceBank, decoder and head.

Frames are driven as ``Sparse4DHead.forward`` drives the bank at inference
(``cache`` then ``get_instance_id(cls, anchor, score_threshold)``), with a batch
of one or two slots. One object per scene is detected each frame by a query
TAO did not carry, as a fixed model does: TAO alone gives it a new ID every frame.
"""
import dataclasses
import importlib
import itertools

import numpy as np
import pytest
import torch

import tao_sparse4d_fix
from tao_sparse4d_fix.runtime import assignment, id_settings
from tao_sparse4d_fix.runtime.patches import decoder_decode, instance_bank_ids
from tao_sparse4d_fix.runtime.patches._base import UnsupportedTaoCode

pytestmark = pytest.mark.per_release  # TAO's own InstanceBank, decoder and head

BANK = "nvidia_tao_pytorch.cv.sparse4d.model.instance_bank"
ANCHORS, TEMP, CLASSES, THRESHOLD = 12, 4, 2, 0.3
HIGH, MID, NONE = 3.0, 1.0, -6.0  # logits: sigmoid 0.95 and 0.73 (both shown); -6: not shown
FAR = 50.0
TRACKER = dict(track_gate=1.0)


@pytest.fixture
def bank_module():
    return importlib.import_module(BANK)


def new_bank(bank_module, **settings):
    bank = bank_module.InstanceBank(num_anchor=ANCHORS, embed_dims=4, anchor=np.zeros((ANCHORS, 11)),
                                    num_temp_instances=TEMP)
    bank.time_interval = torch.tensor([0.5])
    if settings:  # what the head patch does from the spec keys (the others off, whatever the defaults)
        setattr(bank, id_settings.BANK_ATTRIBUTE, dataclasses.replace(id_settings.TAO_IDS, **settings))
    return bank


def frame(detections, batch=1):
    """Logits [batch, N, C] and anchors [batch, N, 11]; ``detections``: (slot, query, logit, class, x, y, vx)."""
    logits = torch.full((batch, ANCHORS, CLASSES), NONE)
    anchor = torch.zeros((batch, ANCHORS, 11))
    anchor[..., :2] = FAR
    for b, q, logit, cls, x, y, vx in detections:
        logits[b, q, cls] = logit
        anchor[b, q, 0], anchor[b, q, 1], anchor[b, q, 8] = x, y, vx
    return logits, anchor


def step(bank, logits, anchor):
    bank.cache(torch.zeros((logits.shape[0], ANCHORS, 4)), anchor, logits)
    return bank.get_instance_id(logits, anchor, THRESHOLD).tolist()


def fresh_query(t):
    """A query the bank does not carry (TEMP..ANCHORS-1), a different one each frame."""
    return TEMP + t % (ANCHORS - TEMP)


def walk(bank, positions, velocity=0.0, cls=0):
    """The object's ID in each frame, detected at ``positions`` by a fresh query each frame."""
    ids = []
    for t, x in enumerate(positions):
        q = fresh_query(t)
        if x is None:  # not detected this frame
            step(bank, *frame([]))
            ids.append(None)
            continue
        ids.append(step(bank, *frame([(0, q, HIGH, cls, x, 0.0, velocity)]))[0][q])
    return ids


@pytest.mark.usefixtures("patched")
def test_association_keeps_one_id_where_tao_gives_a_new_one_each_frame(bank_module):
    positions = [0.5 * t for t in range(6)]
    assert walk(new_bank(bank_module, **TRACKER), positions) == [0] * 6
    assert walk(new_bank(bank_module, id_continuity_gate=0.0), positions) == list(range(6))  # TAO's own IDs


@pytest.mark.usefixtures("patched")
def test_the_gate_bounds_association(bank_module):
    assert walk(new_bank(bank_module, track_gate=0.4), [0.0, 0.5]) == [0, 1]
    assert walk(new_bank(bank_module, track_gate=0.6), [0.0, 0.5]) == [0, 0]


@pytest.mark.usefixtures("patched")
def test_another_class_starts_another_track(bank_module):
    bank = new_bank(bank_module, **TRACKER)
    first = step(bank, *frame([(0, TEMP, HIGH, 0, 0.0, 0.0, 0.0)]))[0][TEMP]
    second = step(bank, *frame([(0, TEMP + 1, HIGH, 1, 0.1, 0.0, 0.0)]))[0][TEMP + 1]
    assert first == 0 and second == 1


@pytest.mark.usefixtures("patched")
@pytest.mark.parametrize("memory, expected", [(0, [0, None, None, 1]), (2, [0, None, None, 0]), (1, [0, None, None, 1])])
def test_lost_track_memory_gives_the_id_back(bank_module, memory, expected):
    """Unseen for two frames, then detected where its velocity (1 m/s, 0.5 s a frame) puts it."""
    bank = new_bank(bank_module, track_gate=0.3, track_max_age=memory)
    assert walk(bank, [0.0, None, None, 1.5], velocity=1.0) == expected


@pytest.mark.usefixtures("patched")
def test_the_gate_grows_with_speed_and_time(bank_module):
    """The model says 4 m/s, the object moved 1.5 m in 0.5 s: 0.5 m off the prediction."""
    slow = walk(new_bank(bank_module, track_gate=0.3), [0.0, 1.5], velocity=4.0)
    grown = walk(new_bank(bank_module, track_gate=0.3, track_speed_gate=0.5), [0.0, 1.5], velocity=4.0)
    assert slow == [0, 1] and grown == [0, 0]  # gate 0.3 + 0.5 x 4 m/s x 0.5 s = 1.3 m


def crossing(bank):
    """Tracks A (x=0) and B (x=1); then detections at 0.9 and 1.95: closest-first gives 0.9 to B and
    leaves 1.95 out of A's gate; the least total distance gives 0.9 to A and 1.95 to B."""
    a = step(bank, *frame([(0, TEMP, HIGH, 0, 0.0, 0.0, 0.0), (0, TEMP + 1, HIGH, 0, 1.0, 0.0, 0.0)]))[0]
    b = step(bank, *frame([(0, TEMP + 2, HIGH, 0, 0.9, 0.0, 0.0), (0, TEMP + 3, HIGH, 0, 1.95, 0.0, 0.0)]))[0]
    return (a[TEMP], a[TEMP + 1]), (b[TEMP + 2], b[TEMP + 3])


@pytest.mark.usefixtures("patched")
def test_greedy_and_hungarian_assignment(bank_module):
    assert crossing(new_bank(bank_module, track_gate=1.0, track_assignment="greedy")) == ((0, 1), (1, 2))
    assert crossing(new_bank(bank_module, track_gate=1.0, track_assignment="hungarian")) == ((0, 1), (0, 1))


@pytest.mark.usefixtures("patched")
def test_tao_carried_link_wins_over_distance(bank_module):
    """A shown query the bank carried keeps its ID, even when a fresh detection lies closer to the track."""
    bank = new_bank(bank_module, **TRACKER)
    step(bank, *frame([(0, TEMP, HIGH, 0, 0.0, 0.0, 0.0)]))
    slot = next(q for q, i in enumerate(bank.instance_id[0].tolist()) if i == 0)
    ids = step(bank, *frame([(0, slot, MID, 0, 0.8, 0.0, 0.0), (0, TEMP + 1, HIGH, 0, 0.1, 0.0, 0.0)]))[0]
    assert ids[slot] == 0 and ids[TEMP + 1] == 1


def decode(bank, decoder_module, logits, anchor):
    bank.cache(torch.zeros((logits.shape[0], ANCHORS, 4)), anchor, logits)
    instance_id = bank.get_instance_id(logits, anchor, THRESHOLD)
    decoder = decoder_module.SparseBox3DDecoder(num_output=ANCHORS, score_threshold=THRESHOLD)
    return decoder.decode([logits], [anchor.clone()], instance_id=instance_id)


@pytest.mark.usefixtures("patched")
def test_duplicates_are_suppressed_keeping_the_older_id(bank_module, decoder_module):
    bank = new_bank(bank_module, track_gate=1.0, track_nms_radius=1.0)
    (first,) = decode(bank, decoder_module, *frame([(0, TEMP, HIGH, 0, 0.0, 0.0, 0.0)]))
    assert first["instance_ids"].tolist() == [0]
    slot = next(q for q, i in enumerate(bank.instance_id[0].tolist()) if i == 0)
    # the carried query (ID 0, lower score) and a fresh duplicate 0.4 m away; a class-1 box 0.2 m away stays
    (out,) = decode(bank, decoder_module, *frame([(0, slot, MID, 0, 0.3, 0.0, 0.0), (0, TEMP + 1, HIGH, 0, 0.7, 0.0, 0.0),
                                                  (0, TEMP + 2, HIGH, 1, 0.5, 0.0, 0.0)]))
    shown = sorted(zip(out["labels_3d"].tolist(), out["instance_ids"].tolist(), out["boxes_3d"][:, 0].tolist()))
    assert [(label, i) for label, i, _ in shown] == [(0, 0), (1, 1)]
    assert shown[0][2] == pytest.approx(0.3)  # the box of the query that carries the older ID
    assert len(out["scores_3d"]) == len(out["boxes_3d"]) == 2


@pytest.mark.usefixtures("patched")
def test_a_batch_of_two_keeps_slots_apart_and_a_new_scene_starts_empty(bank_module):
    bank = new_bank(bank_module, **TRACKER)
    ids = []
    for t in range(3):
        q = fresh_query(t)
        logits, anchor = frame([(0, q, HIGH, 0, 0.5 * t, 0.0, 0.0), (1, q, HIGH, 0, 0.5 * t, 0.0, 0.0)], batch=2)
        bank.time_interval = torch.tensor([0.5, 0.5])
        bank.cache(torch.zeros((2, ANCHORS, 4)), anchor, logits)
        if t == 2:
            bank.mask = torch.tensor([True, False])  # slot 1 crossed into a new scene (TAO's bank dropped it)
        out = bank.get_instance_id(logits, anchor, THRESHOLD)
        ids.append((out[0, q].item(), out[1, q].item()))
    assert ids == [(0, 1), (0, 1), (0, 2)]


def random_frames(seed, batch, count=8):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(count):
        logits = torch.randn((batch, ANCHORS, CLASSES), generator=generator) * 2
        anchor = torch.randn((batch, ANCHORS, 11), generator=generator)
        yield logits, anchor


FULL = dict(track_gate=1.5, track_max_age=3, track_speed_gate=0.5, track_assignment="hungarian", track_nms_radius=0.5)


@pytest.mark.usefixtures("patched")
@pytest.mark.parametrize("settings", [FULL, dict(track_gate=1.5), dict(id_continuity_gate=2.0)])
@pytest.mark.parametrize("seed", range(3))
def test_ids_are_unique_in_a_frame_and_a_fresh_id_is_never_reissued(bank_module, settings, seed):
    bank = new_bank(bank_module, **settings)
    bank.time_interval = torch.tensor([0.5, 0.5])
    issued, owner = set(), {}
    for logits, anchor in random_frames(seed, batch=2):
        bank.cache(torch.zeros((2, ANCHORS, 4)), anchor, logits)
        ids = bank.get_instance_id(logits, anchor, THRESHOLD)
        shown = logits.max(-1).values.sigmoid() >= THRESHOLD
        for b in range(2):
            frame_ids = [i for i in ids[b][shown[b]].tolist() if i != id_settings.SUPPRESSED]
            assert len(frame_ids) == len(set(frame_ids)) and min(frame_ids, default=0) >= 0
            for i in frame_ids:
                assert owner.setdefault(i, b) == b  # an ID belongs to one slot
            issued.update(frame_ids)
        assert int(bank.prev_id) > max(issued, default=-1)  # the next fresh ID is above every ID shown so far


@pytest.mark.usefixtures("patched")
@pytest.mark.parametrize("settings", [FULL, dict(id_continuity_gate=2.0)])
def test_at_most_one_host_transfer_per_frame_beyond_tao_s_own(bank_module, monkeypatch, settings):
    """Every way a tensor's value reaches Python is counted: the plugin adds at most one per frame."""
    counted = {"n": 0}
    for name in ("cpu", "item", "tolist", "numpy", "__bool__", "__int__", "__float__", "__index__", "__array__"):
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _original=original, **kwargs):
            counted["n"] += 1
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, counting)

    def reads(bank):
        per_frame = []
        for logits, anchor in random_frames(7, batch=2):
            bank.cache(torch.zeros((2, ANCHORS, 4)), anchor, logits)
            counted["n"] = 0
            bank.get_instance_id(logits, anchor, THRESHOLD)
            per_frame.append(counted["n"])
        return per_frame

    stock = reads(new_bank(bank_module))  # no settings on the bank: TAO's own call only
    plugin = reads(new_bank(bank_module, **settings))
    assert all(p - s <= 1 for p, s in zip(plugin, stock)), (plugin, stock)
    assert any(p - s == 1 for p, s in zip(plugin, stock))  # the one transfer is counted: the count is live


@pytest.mark.usefixtures("patched")
def test_a_failure_in_the_plugin_leaves_tao_ids_and_counter(bank_module, monkeypatch):
    """The tracker raises on the third frame: TAO's IDs and counter stand, and no later ID repeats one issued."""
    from tao_sparse4d_fix.runtime import tracker

    real, calls = tracker.step, {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("injected")
        return real(*args, **kwargs)
    monkeypatch.setattr(tracker, "step", failing)
    bank = new_bank(bank_module, **TRACKER)
    tao_sparse4d_fix.uninstall()
    stock = new_bank(bank_module)
    tao_sparse4d_fix.install()
    issued = []
    for t in range(6):
        q = fresh_query(t)
        logits, anchor = frame([(0, q, HIGH, 0, 0.5 * t, 0.0, 0.0)])
        if t == 2:
            before = int(bank.prev_id)
            stock.instance_id, stock.prev_id = bank.instance_id.clone(), before
            expected = step(stock, logits, anchor)
            got = step(bank, logits, anchor)
            assert got == expected and int(bank.prev_id) == before + 1  # exactly TAO's call
        else:
            got = step(bank, logits, anchor)
        issued.append(got[0][q])
    assert issued[:2] == [0, 0] and issued[2] == 1
    assert issued[3:] == [2, 3, 4]  # TAO's stock code from then on: fresh IDs, never one issued before


# ---------------------------------------------------------------- the spec keys

def build_head(experiment_config, **values):
    from omegaconf import OmegaConf
    from nvidia_tao_pytorch.cv.sparse4d.model import sparse4d_head

    cfg = OmegaConf.structured(experiment_config)
    cfg.model.head.instance_bank.num_anchor = ANCHORS
    cfg.model.head.instance_bank.num_temp_instances = TEMP
    for key, value in values.items():
        cfg.model.head.instance_bank[key] = value
    return sparse4d_head.build_head(cfg)


@pytest.mark.usefixtures("patched")
def test_the_head_hands_every_key_to_its_bank(experiment_config):
    bank = build_head(experiment_config, **FULL).instance_bank
    assert getattr(bank, id_settings.BANK_ATTRIBUTE) == id_settings.Settings(**FULL)


@pytest.mark.usefixtures("patched")
def test_without_a_key_the_bank_gets_the_evidence_s_advice(experiment_config):
    """The defaults the evidence's rule advised (docs/evidence/tracking.md): association within 1 m with duplicates
    suppressed within 1 m, greedy, no memory, no speed gate; ID continuity off."""
    settings = getattr(build_head(experiment_config).instance_bank, id_settings.BANK_ATTRIBUTE)
    assert settings == id_settings.Settings() == id_settings.Settings(
        id_continuity_gate=0.0, track_gate=1.0, track_max_age=0, track_speed_gate=0.0, track_assignment="greedy",
        track_nms_radius=1.0)


@pytest.mark.usefixtures("patched")
@pytest.mark.parametrize("key, value, valid", [
    ("track_gate", -1.0, "numbers from 0 to 10 metres"),
    ("track_max_age", -1, "whole numbers from 0 to 100 frames"),
    ("track_speed_gate", 6.0, "numbers from 0 to 5"),
    ("track_assignment", "optimal", "one of greedy, hungarian"),
    ("track_nms_radius", 11.0, "numbers from 0 to 10 metres"),
])
def test_a_bad_value_stops_the_build_naming_it_and_the_valid_ones(experiment_config, key, value, valid):
    with pytest.raises(id_settings.InvalidSetting) as raised:
        build_head(experiment_config, **{key: value})
    assert f"model.head.instance_bank.{key}={value!r} is not a valid value; valid values are {valid}" in str(raised.value)


@pytest.mark.usefixtures("patched")
@pytest.mark.parametrize("key, value", [("track_max_age", 2.5), ("track_nms_radius", "wide")])
def test_a_value_of_the_wrong_type_is_refused_by_tao_s_schema(experiment_config, key, value):
    from omegaconf.errors import ValidationError

    with pytest.raises(ValidationError, match=f"full_key: model.head.instance_bank.{key}"):
        build_head(experiment_config, **{key: value})


def test_without_the_plugin_tao_refuses_the_keys(experiment_config):
    from omegaconf import OmegaConf

    tao_sparse4d_fix.uninstall()
    cfg = OmegaConf.structured(experiment_config)
    with pytest.raises(Exception, match="track_gate"):
        cfg.model.head.instance_bank["track_gate"] = 1.0


@pytest.mark.usefixtures("patched")
def test_suppression_without_the_decoder_patch_stops_the_build(experiment_config, decoder_module):
    decoder_decode.PATCH.revert(decoder_module)
    with pytest.raises(UnsupportedTaoCode) as raised:
        build_head(experiment_config, track_nms_radius=1.5)
    assert "asks for track_nms_radius=1.5" in str(raised.value)
    assert "SparseBox3DDecoder.decode is not patched" in str(raised.value)
    build_head(experiment_config, track_nms_radius=0.0)  # without suppression the decoder's patch is not needed


# ---------------------------------------------------------------- the matching, on its own

def closest_first(cost):
    """The reference: every allowed pair in ascending order (stable), taken when both ends are free."""
    cost = np.asarray(cost)
    taken, used = np.full(cost.shape[0], -1), set()
    for flat in np.argsort(cost, axis=None, kind="stable"):
        i, j = divmod(int(flat), cost.shape[1])
        if np.isfinite(cost[i, j]) and taken[i] < 0 and j not in used:
            taken[i] = j
            used.add(j)
    return taken


def random_costs(seed, count=200):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        rows, columns = rng.integers(0, 7, size=2)
        cost = rng.choice([0.1, 0.2, 0.5, 0.7], size=(rows, columns)) if rng.random() < 0.3 else rng.random((rows, columns))
        yield np.where(rng.random((rows, columns)) < 0.3, np.inf, cost)


def sparse(cost):
    """The allowed pairs of a dense matrix (inf: not allowed), as the matchings take them."""
    rows, columns = np.nonzero(np.isfinite(cost))
    return rows, columns, cost[rows, columns], cost.shape[0]


@pytest.mark.once
def test_greedy_is_the_closest_first_loop_ties_included():
    for cost in random_costs(0):
        assert assignment.greedy(*sparse(cost)).tolist() == closest_first(cost).tolist()


@pytest.mark.once
def test_close_pairs_are_the_same_class_pairs_within_the_gate():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0, 3, size=(20, 3)), rng.uniform(0, 3, size=(30, 3))
    la, lb = rng.integers(0, 2, 20), rng.integers(0, 2, 30)
    gate = rng.uniform(0.2, 1.0, size=30)
    rows, columns, distance = assignment.close_pairs(a, b, gate, la, lb)
    dense = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    expected = np.nonzero((dense <= gate[None, :]) & (la[:, None] == lb[None, :]))
    assert (rows.tolist(), columns.tolist()) == (expected[0].tolist(), expected[1].tolist())
    assert distance == pytest.approx(dense[expected])


@pytest.mark.once
def test_hungarian_takes_the_most_pairs_at_the_least_total_cost():
    for cost in random_costs(1, count=100):
        rows, columns = cost.shape
        best = (0, 0.0)
        for perm in itertools.permutations(range(max(rows, columns)), rows):  # brute force over every matching
            pairs = [(i, j) for i, j in enumerate(perm) if j < columns and np.isfinite(cost[i, j])]
            score = (len(pairs), -sum(cost[i, j] for i, j in pairs))
            best = max(best, score)
        taken = assignment.hungarian(*sparse(cost))
        pairs = [(i, j) for i, j in enumerate(taken) if j >= 0]
        assert len({j for _, j in pairs}) == len(pairs)
        assert (len(pairs), -sum(cost[i, j] for i, j in pairs)) == pytest.approx(best)
