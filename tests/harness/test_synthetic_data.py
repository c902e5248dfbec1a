"""harness/synthetic_data.py: deterministic, in TAO's format, and empty where asked.

Runs in the harness environment:
    python3 harness/testenv.py run --tao 6.25.11 -- python -m pytest tests/harness
"""
import hashlib
import pickle
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("PIL")

from harness import synthetic_data

pytestmark = pytest.mark.once  # the plugin's own logic: runs on one TAO release (tests/unit/conftest.py)


def _digest(root):
    h = hashlib.sha256()
    for p in sorted(Path(root).rglob("*.png")) + [Path(root) / "anchors.npy"]:
        h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes(tmp_path):
    a = synthetic_data.generate(tmp_path / "a", seed=3, scenes=2, frames=2)
    b = synthetic_data.generate(tmp_path / "b", seed=3, scenes=2, frames=2)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x["gt_boxes"], y["gt_boxes"])
    c = synthetic_data.generate(tmp_path / "c", seed=4, scenes=2, frames=2)
    assert not np.array_equal(a[0]["gt_boxes"], c[0]["gt_boxes"])


def test_empty_scenes_and_frames(tmp_path):
    infos = synthetic_data.generate(tmp_path, seed=0, scenes=3, frames=3, empty_scenes=1, empty_frames=1)
    counts = {(i["scene_name"], i["frame_idx"]): len(i["gt_boxes"]) for i in infos}
    assert all(counts[("scene_002", f)] == 0 for f in range(3))
    for scene in ("scene_000", "scene_001"):
        assert counts[(scene, 0)] > 0 and counts[(scene, 2)] == 0
    empty = next(i for i in infos if not len(i["gt_boxes"]))
    assert empty["gt_boxes"].shape == (0, 7) and empty["gt_velocity"].shape == (0, 3)


def test_boxes_project_where_rendered(tmp_path):
    """Every valid box's centre projects (through TAO's lidar2img = K @ T) into some image, in front of it."""
    infos = synthetic_data.generate(tmp_path, seed=1, scenes=1, frames=2)
    with open(tmp_path / "train.pkl", "rb") as fh:
        assert pickle.load(fh)["infos"][0]["token"] == infos[0]["token"]
    for info in infos:
        assert info["valid_flag"].all() and (info["num_lidar_pts"] > 0).all()
        for box in info["gt_boxes"]:
            seen = False
            for cam in info["cams"].values():
                P = np.eye(4)
                P[:3, :3] = cam["cam_intrinsic"]
                u, v, z, _ = P @ cam["sensor2world_transform"] @ np.append(box[:3], 1.0)
                seen |= z > 0 and 0 <= u / z < 160 and 0 <= v / z < 96
            assert seen


def test_crossing_objects_enter_and_leave_the_floor(tmp_path):
    infos = synthetic_data.generate(tmp_path, seed=7, scenes=4, frames=16, objects=(3, 6), area=7.0,
                                    num_anchors=32, width=64, height=32, motion="crossing", fps=5.0)
    left = entered = 0
    for a, b in zip(infos, infos[1:]):
        if a["scene_name"] != b["scene_name"]:
            continue
        assert b["timestamp"] - a["timestamp"] == pytest.approx(0.2)
        before, after = set(a["instance_inds"].tolist()), set(b["instance_inds"].tolist())
        left += len(before - after)
        entered += len(after - before)
        for i in before & after:  # constant velocity between frames
            pa = a["gt_boxes"][list(a["instance_inds"]).index(i), :2]
            pb = b["gt_boxes"][list(b["instance_inds"]).index(i), :2]
            va = a["gt_velocity"][list(a["instance_inds"]).index(i), :2]
            np.testing.assert_allclose(pb - pa, va * 0.2, atol=1e-4)
            assert 1.5 * 0.2 - 1e-4 <= np.linalg.norm(pb - pa) <= 3.0 * 0.2 + 1e-4
    assert left > 0 and entered > 0
    for info in infos:
        xy = info["gt_boxes"][:, :2]
        assert (np.linalg.norm(xy, axis=1) <= 7.0 + 1.5 + 1e-4).all()  # only on the observed floor
        gaps = np.linalg.norm(xy[:, None] - xy[None], axis=-1)[np.triu_indices(len(xy), 1)]
        assert (gaps >= synthetic_data.MIN_GAP - 1e-4).all()


def test_unknown_motion_is_refused_with_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="motion='drift'; valid: steady, crossing"):
        synthetic_data.generate(tmp_path, motion="drift")
