#!/usr/bin/env python3
"""Write TAO-style dataset info pickles with REAL numpy, and what numpy itself decodes them to.

    PYTHON_WITH_NUMPY make_fixtures.py OUT_DIR [PROTOCOL ...]     (default: protocols 2 4 5)

For each protocol: ``info_numpy<MAJOR>_p<PROTOCOL>.pkl`` ({"infos": [...],
"metadata": {...}} as TAO's dataset reads it: token, timestamp, scene_name,
cams with 4x4/3x3 matrices, gt_boxes [N, 7] float32 (one frame with none),
gt_names <U32, gt_velocity with NaN, valid_flag bool, num_lidar_pts int32,
instance_inds int64, object, big-endian, uint8, float16, bytes and 0-d
arrays, numpy scalars) and ``...pkl.repr``: repr() of the same data with every
array turned into nested lists by numpy's own ``tolist()`` and every scalar by
``item()``. The numpy-free reader must give exactly that repr.

tests/inspect runs this at test time with every numpy it finds; the files in
this folder were written by numpy 1.26.4 and 2.4.6 so that both stay covered
where neither is installed.
"""
import pickle
import sys
from pathlib import Path

import numpy as np


def infos():
    out = []
    for scene in range(2):
        for frame in range(3):
            n = (scene + frame) % 3  # 0, 1 or 2 boxes
            out.append({
                "token": f"scene_{scene:03d}_{frame:06d}",
                "timestamp": np.int64(1_000_000 * scene + 33_333 * frame),
                "scene_name": f"scene_{scene:03d}",
                "frame_idx": frame,
                "cams": {"cam_0": {"data_path": f"images/{scene}_{frame}.png",
                                   "sensor2world_transform": np.eye(4) * (frame + 1),
                                   "cam_intrinsic": np.asfortranarray(np.arange(9.0).reshape(3, 3))}},
                "gt_boxes": (np.arange(n * 7, dtype=np.float32).reshape(n, 7) / 4 + scene).astype(np.float32),
                "gt_names": np.array(["person", "box"][:n], dtype="<U32"),
                "gt_velocity": np.full((n, 3), np.nan if frame == 1 else 0.5),
                "valid_flag": np.array([True, False][:n]),
                "num_lidar_pts": np.arange(n, dtype=np.int32) - 1,
                "instance_inds": np.arange(n, dtype=np.int64) + 10 * scene,
                "asset_inds": np.array([f"asset_{i}" for i in range(n)] + [None], dtype=object),
                "gt_visibility": np.float32(0.75),
                "ego_xy": np.array([1.5, -2.5], dtype=">f8"),
                "mask_u8": np.arange(3, dtype=np.uint8) * 100,
                "half": np.array([0.5, -1.25], dtype=np.float16),
                "raw": np.array([b"ab", b"c"]),
                "zero_d": np.array(7.25),
                "empty_cols": np.zeros((2, 0)),
                "flag": np.bool_(True),
            })
    return out


def plain(value):
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def main(argv):
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    data = {"infos": infos(), "metadata": {"version": "tsf-test", "numpy": np.__version__}}
    written = []
    for protocol in [int(p) for p in argv[1:]] or [2, 4, 5]:
        path = out / f"info_numpy{np.__version__.split('.')[0]}_p{protocol}.pkl"
        with open(path, "wb") as handle:
            pickle.dump(data, handle, protocol=protocol)
        path.with_name(path.name + ".repr").write_text(repr(plain(data)) + "\n")
        written.append(str(path))
    print("\n".join(written))


if __name__ == "__main__":
    main(sys.argv[1:])
