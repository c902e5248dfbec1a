"""One frame of TAO's ID assignment, read to the host in one transfer.

``get_instance_id`` holds on the device what the plugin's ID rules need: each
query's score and class, its box centre and velocity (TAO's anchor layout,
``model/box3d.py``: X, Y, Z, W, L, H, SIN_YAW, COS_YAW, VX, VY, VZ), the IDs
the bank carried, the bank's ID counter, and per batch slot whether the bank
kept the slot's last frame and the time since it. ``read`` stacks them on the
device and copies them to the host once: on a GPU one sync per frame (TAO's
decoder already makes several), never one per query.
"""
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

POSITION, VELOCITY = (0, 1, 2), (8, 9, 10)  # X, Y, Z and VX, VY, VZ in TAO's anchor
_SCORE, _LABEL, _POSITION, _VELOCITY, _CARRIED = 0, 1, slice(2, 5), slice(5, 8), 8
_COLUMNS = 9


@dataclass
class Slot:
    """One batch slot's queries (arrays over queries) and its place in time."""

    score: np.ndarray  # sigmoid of the best class logit: what the decoder thresholds
    label: np.ndarray  # the best class
    position: np.ndarray  # [N, 3] box centre, this frame's ego coordinates
    velocity: np.ndarray  # [N, 3] m/s, this frame's ego coordinates
    carried: np.ndarray  # the ID the bank carried on each query (-1: none)
    continues: bool  # the bank kept this slot's last frame (False at a new scene or a gap)
    interval: float  # seconds since the slot's last frame
    to_global: Optional[np.ndarray]  # 4 x 4 ego-to-global of this frame, when the data gives one


@dataclass
class Frame:
    slots: List[Slot]
    first_id: int  # the bank's counter before TAO's call: the next fresh ID
    carried_any: bool  # the bank carried IDs into this frame (False on a scene's first frame)


def read(instance, logits, anchor, carried):
    """The ``Frame`` of one ``get_instance_id`` call; ``carried``: the bank's IDs before TAO's call."""
    import torch

    best, label = logits.detach().max(dim=-1)
    batch, queries = best.shape
    device = best.device
    carried_any = carried is not None and carried.shape[0] == batch
    ids = torch.full((batch, queries), -1, dtype=torch.float64, device=device)
    if carried_any:
        ids[:, : carried.shape[1]] = carried
    anchor = anchor.detach()
    velocity = anchor[..., list(VELOCITY)] if anchor.shape[-1] > VELOCITY[-1] else torch.zeros_like(anchor[..., :3])
    per_query = torch.cat([best.sigmoid()[..., None].double(), label[..., None].double(),
                           anchor[..., list(POSITION)].double(), velocity.double(), ids[..., None]], dim=-1)
    mask = instance.mask if carried_any and instance.mask is not None else True
    interval = getattr(instance, "time_interval", None)
    if interval is None:
        interval = instance.default_time_interval
    per_slot = torch.stack([_per_slot(mask, batch, device), _per_slot(interval, batch, device)], dim=-1)
    counter = torch.as_tensor(instance.prev_id, dtype=torch.float64, device=device).reshape(1)
    host = torch.cat([per_query.flatten(), per_slot.flatten(), counter]).numpy(force=True)  # the one transfer
    query_part = host[: batch * queries * _COLUMNS].reshape(batch, queries, _COLUMNS)
    slot_part = host[batch * queries * _COLUMNS: -1].reshape(batch, 2)
    poses = _poses(instance, batch)
    slots = [Slot(score=q[:, _SCORE], label=q[:, _LABEL].astype(np.int64), position=q[:, _POSITION],
                  velocity=q[:, _VELOCITY], carried=q[:, _CARRIED].astype(np.int64), continues=bool(s[0]),
                  interval=float(s[1]), to_global=pose)
             for q, s, pose in zip(query_part, slot_part, poses)]
    return Frame(slots=slots, first_id=int(host[-1]), carried_any=carried_any)


def _per_slot(value, batch, device):
    """A bank attribute (a tensor per slot, or one number for all) as float64 [batch] on ``device``."""
    import torch

    return torch.as_tensor(value, dtype=torch.float64, device=device).reshape(-1).expand(batch)


def _poses(instance, batch):
    """Each slot's ego-to-global transform from the frame's metas (host arrays already), or None."""
    metas = getattr(instance, "metas", None) or {}
    img_metas = metas.get("img_metas") if isinstance(metas, dict) else None
    if not img_metas or len(img_metas) != batch:
        return [None] * batch
    return [np.asarray(m["T_global"], dtype=np.float64) if isinstance(m, dict) and "T_global" in m else None
            for m in img_metas]
