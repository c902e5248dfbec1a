#!/usr/bin/env python3
"""Deterministic tiny dataset in TAO Sparse4D's format (Omniverse3DDetTrackDataset), for tests.

Each scene is a few consecutive frames seen by 2+ fixed cameras placed around a
ground plane and looking at its centre. Boxes of a few classes move at constant
velocity and are ray-cast into the images (per-class colours, shaded faces,
a checkered ground), so the images really show the objects and the depth maps
are exact. Written to OUT:

* ``images/<scene>/<cam>/<frame>.png`` (RGB) and ``depth/...png`` (uint16, mm);
* ``train.pkl`` / ``val.pkl``: ``{"infos": [...], "metadata": {...}}`` with the
  per-frame keys TAO's dataset reads (token, timestamp, scene_name, frame_idx,
  cams{data_path (absolute, TAO opens it as is), depth_map_path (relative to
  data_root), sensor2world_transform (TAO multiplies it as world->camera:
  lidar2img = K @ T), cam_intrinsic}, gt_boxes [N,7] (x, y, z, w, l, h, yaw;
  w along the box's local x as Sparse4D's key points use it), gt_names,
  gt_velocity [N,3], valid_flag, num_lidar_pts, instance_inds, asset_inds,
  gt_visibility [{cam: fraction visible}]);
* ``metadata.json``: classes, cameras, image size, number of anchors;
* ``anchors.npy`` [num_anchors, 11]: x, y, z, log w, log l, log h, sin, cos, vx, vy, vz.

``--empty-scenes K`` makes the last K scenes hold no objects at all and
``--empty-frames F`` removes the objects from the last F frames of every other
scene (frames where the stock loss has no positive to supervise).

    python harness/synthetic_data.py --out DIR --seed 0 --scenes 2 --frames 4
"""
import argparse
import json
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

# name: (w, l, h) in metres, RGB colour
CLASSES = {
    "person": ((0.6, 0.6, 1.7), (220, 60, 40)),
    "nova_carter": ((0.7, 0.9, 0.5), (40, 90, 220)),
}
FPS = 30.0
SCENE_TIME_GAP = 100.0  # seconds between scenes, beyond InstanceBank's max_time_interval (2 s)


def camera(position, target, focal, width, height):
    """Intrinsics K (3x3) and world->camera T (4x4) of a pinhole looking at ``target`` (z up)."""
    forward = np.asarray(target, float) - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rot = np.stack([right, down, forward])
    T = np.eye(4)
    T[:3, :3] = rot
    T[:3, 3] = -rot @ position
    K = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1.0]])
    return K, T


GROUNDS = ("checker", "dark")
MOTIONS = ("steady", "crossing")
CROSSING_SPEED = (1.5, 3.0)  # m/s: a crossing object travels 5-10 m in a 16-frame scene at 5 Hz
CROSSING_MARGIN = 3.0  # m: crossing objects start up to this far outside the observed floor
CROSSING_DRAWN = 1.5  # drawn per scene, times ``objects``: about as many on the floor per frame as steady scenes
MIN_GAP = 1.2  # m: two crossing objects on the floor at the same time are never closer than this


def render(K, T, width, height, boxes, colors, rng, ground_style="checker"):
    """Ray-cast the ground plane and the boxes; returns RGB uint8, depth (m), per-box visible/total pixels.

    ``ground_style`` "checker": a high-contrast checkered ground under a light sky; "dark": a plain dark
    ground and sky, so the boxes are the only salient structure (background that looks like background).
    """
    rot, pos = T[:3, :3], -T[:3, :3].T @ T[:3, 3]
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    rays_cam = np.linalg.inv(K) @ np.stack([u.ravel(), v.ravel(), np.ones(u.size)])  # camera z == 1
    rays = (rot.T @ rays_cam).T  # world directions, scaled so that depth == ray parameter

    depth = np.full(u.size, 1e3)
    ground = rays[:, 2] < -1e-6
    depth[ground] = -pos[2] / rays[ground, 2]
    hit = pos + rays * depth[:, None]
    if ground_style == "dark":
        image = np.where(ground[:, None], 40.0, 15.0) * np.ones(3)
    else:
        checker = (np.floor(hit[:, 0]) + np.floor(hit[:, 1])) % 2
        image = np.where(ground[:, None], 90 + 50 * checker[:, None], 170.0) * np.ones(3)
    owner = np.full(u.size, -1)
    hits_total = np.zeros(len(boxes), int)

    for i, (x, y, z, w, l, h, yaw) in enumerate(boxes):
        c, s = np.cos(yaw), np.sin(yaw)
        to_local = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])
        o = to_local @ (pos - [x, y, z])
        d = rays @ to_local.T
        half = np.array([w, l, h]) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = (-half - o) / d, (half - o) / d
        t_near = np.nanmax(np.minimum(t1, t2), axis=1)
        t_far = np.nanmin(np.maximum(t1, t2), axis=1)
        inside = (t_near <= t_far) & (t_near > 0)
        hits_total[i] = inside.sum()
        closer = inside & (t_near < depth)
        depth[closer] = t_near[closer]
        owner[closer] = i
        # shade by the face hit: top brightest, sides by their local axis
        with np.errstate(invalid="ignore"):
            face = np.argmax(np.abs((o + d * t_near[:, None]) / half), axis=1)
        shade = np.array([0.75, 0.9, 1.0])[face]
        image[closer] = np.asarray(colors[i]) * shade[closer, None]

    image += rng.normal(0, 4, image.shape)
    visible = np.bincount(owner[owner >= 0], minlength=len(boxes))
    return (
        np.clip(image, 0, 255).astype(np.uint8).reshape(height, width, 3),
        depth.reshape(height, width),
        visible,
        hits_total,
    )


def make_anchors(num_anchors, rng, area=4.0):
    """Anchors spread over the object area with the mean class size (Sparse4D's anchor layout)."""
    xy = rng.uniform(-area, area, size=(num_anchors, 2))
    size = np.log(np.mean([s for s, _ in CLASSES.values()], axis=0))
    anchors = np.zeros((num_anchors, 11), np.float32)
    anchors[:, :2] = xy
    anchors[:, 2] = 0.5
    anchors[:, 3:6] = size
    anchors[:, 7] = 1.0  # cos(yaw) = 1
    return anchors


def _steady_scene(rng, class_names, objects, area, frames, empty_frames, empty):
    """Objects at constant velocity for the whole scene (removed from its last ``empty_frames`` frames)."""
    n_obj = 0 if empty else int(rng.integers(objects[0], objects[1] + 1))
    names = [class_names[i] for i in rng.integers(0, len(class_names), n_obj)]
    start, placed = [], 0
    while placed < n_obj:  # non-overlapping start positions
        p = rng.uniform(-area, area, 2)
        if all(np.linalg.norm(p - q) > 1.5 for q in start):
            start.append(p)
            placed += 1
    yaw = rng.uniform(-np.pi, np.pi, n_obj)
    speed = rng.uniform(0.5, 1.5, n_obj)
    velocity = np.stack([speed * np.cos(yaw), speed * np.sin(yaw), np.zeros(n_obj)], axis=1)
    present = np.zeros((frames, n_obj), bool)
    present[: frames - empty_frames] = True
    return names, np.asarray(start).reshape(-1, 2), yaw, velocity, present


def _crossing_scene(rng, class_names, objects, area, frames, fps, empty):
    """Objects crossing the observed floor (a disc of radius ``area`` + 1.5 m, the anchors' cover).

    Each object moves straight at 1.5-3 m/s from a start point up to ``CROSSING_MARGIN`` outside the floor's
    square, and exists in a frame only while it is on the floor: objects enter and leave during a scene
    (the floor's edge is a wall the cameras do not see through). Paths cross, so objects pass behind each
    other in a camera's view; one hidden in every camera has no pixels and TAO drops it from that frame's
    ground truth. ``CROSSING_DRAWN`` times ``objects`` are drawn, since not all of them are on the floor at a
    time; objects never on the floor are discarded, and two objects on the floor together stay ``MIN_GAP`` apart.
    """
    radius = area + 1.5
    times = np.arange(frames) / fps
    names, start, yaw, velocity, present = [], [], [], [], []
    lo, hi = (int(np.ceil(CROSSING_DRAWN * n)) for n in objects)
    wanted = 0 if empty else int(rng.integers(lo, hi + 1))
    for _ in range(wanted):
        for _try in range(100):
            p0 = rng.uniform(-radius - CROSSING_MARGIN, radius + CROSSING_MARGIN, 2)
            heading = rng.uniform(-np.pi, np.pi)
            v = rng.uniform(*CROSSING_SPEED) * np.array([np.cos(heading), np.sin(heading)])
            path = p0 + times[:, None] * v
            on = np.linalg.norm(path, axis=1) <= radius
            if not on.any():
                continue
            if all(np.all(np.linalg.norm(path - (s + times[:, None] * u[:2]), axis=1)[on & o] >= MIN_GAP)
                   for s, u, o in zip(start, velocity, present)):
                break
        else:
            continue
        names.append(class_names[int(rng.integers(0, len(class_names)))])
        start.append(p0)
        yaw.append(heading)
        velocity.append([v[0], v[1], 0.0])
        present.append(on)
    n_obj = len(names)
    return (names, np.asarray(start, float).reshape(n_obj, 2), np.asarray(yaw, float),
            np.asarray(velocity, float).reshape(n_obj, 3), np.asarray(present, bool).reshape(n_obj, frames).T)


def generate(out, seed=0, scenes=2, frames=4, cameras=2, width=160, height=96, objects=(2, 4),
             empty_scenes=0, empty_frames=0, num_anchors=64, focal=None, ground="checker", area=2.5,
             camera_radius=9.0, camera_height=4.0, motion="steady", fps=FPS):
    """Write the dataset to ``out`` and return the info dicts of the training split.

    Objects start uniformly in ``[-area, area]^2`` (1.5 m apart); anchors cover the same square plus
    1.5 m, so a larger ``area`` leaves most anchors, and so most queries, far from every object.
    ``motion`` "steady": every object is on the floor for the whole scene; "crossing": objects cross the
    observed floor, so they enter and leave it and pass behind each other (``_crossing_scene``).
    """
    if motion not in MOTIONS:
        raise ValueError(f"motion={motion!r}; valid: {', '.join(MOTIONS)}")
    if ground not in GROUNDS:
        raise ValueError(f"ground={ground!r}; valid: {', '.join(GROUNDS)}")
    out = Path(out).resolve()
    rng = np.random.default_rng(seed)
    focal = focal or 0.6 * width
    class_names = list(CLASSES)
    cams = {}
    for j in range(cameras):
        angle = 2 * np.pi * j / cameras + np.pi / 4
        position = np.array([camera_radius * np.cos(angle), camera_radius * np.sin(angle), camera_height])
        cams[f"cam_{j}"] = camera(position, [0.0, 0.0, 0.5], focal, width, height)

    infos, next_instance = [], 0
    for k in range(scenes):
        scene = f"scene_{k:03d}"
        empty = k >= scenes - empty_scenes
        if motion == "steady":
            names, start, yaw, velocity, present = _steady_scene(rng, class_names, objects, area, frames, empty_frames,
                                                                 empty)
        else:
            names, start, yaw, velocity, present = _crossing_scene(rng, class_names, objects, area, frames, fps, empty)
        n_obj = len(names)
        instance_ids = np.arange(next_instance, next_instance + n_obj)
        next_instance += n_obj

        for f in range(frames):
            t = f / fps
            here = np.flatnonzero(present[f]) if n_obj else np.zeros(0, int)
            boxes = np.array(
                [[*(start[i] + velocity[i, :2] * t), CLASSES[names[i]][0][2] / 2, *CLASSES[names[i]][0], yaw[i]]
                 for i in here], dtype=np.float64).reshape(-1, 7)
            colors = [CLASSES[names[i]][1] for i in here]
            cam_infos, visibility, pixels = {}, [dict() for _ in here], np.zeros(len(here), int)
            for cam, (K, T) in cams.items():
                image, depth, visible, total = render(K, T, width, height, boxes, colors, rng, ground)
                rel = Path(cam) / f"{f:06d}.png"
                (out / "images" / scene / cam).mkdir(parents=True, exist_ok=True)
                (out / "depth" / scene / cam).mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(out / "images" / scene / rel)
                Image.fromarray(np.clip(depth * 1000, 0, 65535).astype(np.uint16)).save(out / "depth" / scene / rel)
                cam_infos[cam] = {
                    "data_path": str(out / "images" / scene / rel),
                    "depth_map_path": str(Path("depth") / scene / rel),
                    "sensor2world_transform": T.copy(),
                    "cam_intrinsic": K.copy(),
                }
                for j in range(len(here)):
                    visibility[j][cam] = float(visible[j] / total[j]) if total[j] else 0.0
                pixels += visible
            infos.append({
                "token": f"{scene}_{f:06d}",
                "timestamp": k * SCENE_TIME_GAP + t,
                "scene_name": scene,
                "frame_idx": f,
                "cams": cam_infos,
                "gt_boxes": boxes.astype(np.float32),
                "gt_names": np.array([names[i] for i in here], dtype="<U32"),
                "gt_velocity": velocity[here].astype(np.float32).reshape(-1, 3),
                "valid_flag": pixels > 0,
                "num_lidar_pts": pixels,
                "instance_inds": instance_ids[here].copy(),
                "asset_inds": instance_ids[here] % 70,  # TAO's default num_ids is 70
                "gt_visibility": visibility,
            })

    meta = {"version": "synthetic", "seed": seed, "classes": class_names, "cameras": list(cams),
            "image_hw": [height, width], "num_anchors": num_anchors}
    for split in ("train", "val"):
        with open(out / f"{split}.pkl", "wb") as fh:
            pickle.dump({"infos": infos, "metadata": meta}, fh)
    (out / "metadata.json").write_text(json.dumps(meta, indent=1))  # readable without numpy
    np.save(out / "anchors.npy", make_anchors(num_anchors, np.random.default_rng(seed + 1), area=area + 1.5))
    return infos


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scenes", type=int, default=2)
    p.add_argument("--frames", type=int, default=4, help="consecutive frames per scene")
    p.add_argument("--cameras", type=int, default=2)
    p.add_argument("--width", type=int, default=160)
    p.add_argument("--height", type=int, default=96)
    p.add_argument("--min-objects", type=int, default=2)
    p.add_argument("--max-objects", type=int, default=4)
    p.add_argument("--empty-scenes", type=int, default=0, help="the last K scenes hold no objects")
    p.add_argument("--empty-frames", type=int, default=0, help="the last F frames of each other scene hold no objects")
    p.add_argument("--anchors", type=int, default=64, help="rows of anchors.npy")
    p.add_argument("--ground", choices=GROUNDS, default="checker")
    p.add_argument("--area", type=float, default=2.5, help="objects start in [-area, area]^2 metres")
    p.add_argument("--camera-radius", type=float, default=9.0)
    p.add_argument("--camera-height", type=float, default=4.0)
    p.add_argument("--motion", choices=MOTIONS, default="steady")
    p.add_argument("--fps", type=float, default=FPS, help="frames per second (timestamps)")
    a = p.parse_args(argv)
    infos = generate(a.out, a.seed, a.scenes, a.frames, a.cameras, a.width, a.height, (a.min_objects, a.max_objects),
                     a.empty_scenes, a.empty_frames, a.anchors, ground=a.ground, area=a.area,
                     camera_radius=a.camera_radius, camera_height=a.camera_height, motion=a.motion, fps=a.fps)
    print(f"wrote {len(infos)} frames, {sum(len(i['gt_boxes']) for i in infos)} boxes to {Path(a.out).resolve()}")


if __name__ == "__main__":
    main()
