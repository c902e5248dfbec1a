"""A tracker's life cycle for TAO's track IDs (``model.head.instance_bank.track_*``).

TAO keeps an ID only on the queries it carries; the plugin's ID continuity
links a fresh detection to an unshown carried query. Neither links a detection
to what was shown last frame. With ``track_gate`` > 0 every shown detection is
instead associated with the slot's tracks, as tracking-by-detection trackers do
(CenterPoint, ByteTrack, SimpleTrack, Poly-MOT):

1. duplicate suppression (``track_nms_radius``): of same-class detections
   closer than the radius only one is shown, the one carrying the older ID
   (TAO's carried IDs, lower first), else the higher score; one pass over the
   pairs at once (Fast NMS: a detection goes when any detection ranked above
   it is a duplicate);
2. association: each detection against every track seen within the last
   ``track_max_age`` + 1 frames, its position predicted forward with its
   velocity over the time since it was seen; allowed for the same class within
   ``track_gate`` + ``track_speed_gate`` × speed × that time, in the ground
   plane; a detection on the query that carries a track's ID (TAO's own
   carry-over) is linked to it at no cost, whatever the distance;
   ``track_assignment`` greedy (closest first) or hungarian;
3. life cycle: a matched track takes the detection's position, velocity and
   class; a detection left over keeps the ID its query carries when no track
   holds it, else takes a fresh one, and starts a track; a track no detection
   took ages one frame and is forgotten after ``track_max_age`` frames.

Tracks live in global coordinates when the data gives ego poses (TAO's
``T_global``), else in the ego frame. A slot whose bank dropped its last frame
(a new scene, a gap over TAO's ``max_time_interval``) starts empty. Host arrays
only (``runtime.id_frame``): nothing here reads a tensor.
"""
from dataclasses import dataclass, field

import numpy as np

from tao_sparse4d_fix.runtime import assignment



@dataclass
class Tracks:
    """One batch slot's tracks: arrays over tracks, and the slot's clock (seconds since its scene began)."""

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    position: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    velocity: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    label: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    seen: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the clock when last detected
    missed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # frames since
    clock: float = 0.0

    def subset(self, keep):
        return Tracks(self.ids[keep], self.position[keep], self.velocity[keep], self.label[keep], self.seen[keep],
                      self.missed[keep], self.clock)


@dataclass
class SlotResult:
    ids: np.ndarray  # per query: the ID shown (-1: not shown; shown queries only are meaningful)
    suppressed: np.ndarray  # per query: a duplicate the decoder must not show
    fresh: int  # how many fresh IDs were issued
    tracks: Tracks


def _global(slot):
    """Positions and velocities of the slot's queries in global coordinates (ego ones without a pose)."""
    if slot.to_global is None:
        return slot.position, slot.velocity
    rotation, translation = slot.to_global[:3, :3], slot.to_global[:3, 3]
    return slot.position @ rotation.T + translation, slot.velocity @ rotation.T


def suppress(candidates, slot, radius):
    """Of ``candidates`` (query indices), the mask of duplicates: same class, within ``radius`` of a higher-ranked one."""
    carried = slot.carried[candidates]
    has_id = carried >= 0
    # rank: carrying an ID first, the older (lower) ID first, then the higher score
    order = np.lexsort((-slot.score[candidates], np.where(has_id, carried, np.iinfo(np.int64).max), ~has_id))
    ranked = candidates[order]
    rows, columns, _ = assignment.close_pairs(slot.position[ranked], slot.position[ranked], radius,
                                              slot.label[ranked], slot.label[ranked])
    duplicate_ranked = np.zeros(len(ranked), dtype=bool)
    duplicate_ranked[columns[rows < columns]] = True  # a pair (i, j), i ranked above j: j goes
    duplicate = np.zeros(len(candidates), dtype=bool)
    duplicate[order] = duplicate_ranked
    return duplicate


def step(slot, tracks, settings, threshold, next_id):
    """This frame's IDs for one slot, and its tracks after it; fresh IDs start at ``next_id``."""
    if not slot.continues:
        tracks = Tracks()
    clock = tracks.clock + slot.interval
    queries = len(slot.score)
    shown = np.flatnonzero(slot.score >= threshold)
    suppressed = np.zeros(queries, dtype=bool)
    if settings.track_nms_radius > 0 and len(shown) > 1:
        duplicate = suppress(shown, slot, settings.track_nms_radius)
        suppressed[shown[duplicate]] = True
        shown = shown[~duplicate]
    position, velocity = _global(slot)

    elapsed = clock - tracks.seen
    predicted = tracks.position + tracks.velocity * elapsed[:, None]
    speed = np.hypot(tracks.velocity[:, 0], tracks.velocity[:, 1])
    gate = settings.track_gate + settings.track_speed_gate * speed * elapsed
    rows, columns, distance = assignment.close_pairs(position[shown], predicted, gate, slot.label[shown], tracks.label)
    own_rows, own_columns = np.nonzero(slot.carried[shown][:, None] == tracks.ids[None, :])  # TAO carried the track's ID
    rows, columns = np.concatenate([own_rows, rows]), np.concatenate([own_columns, columns])
    cost = np.concatenate([np.zeros(own_rows.size), distance])
    match = assignment.METHODS[settings.track_assignment](rows, columns, cost, len(shown))
    ids = np.full(queries, -1, dtype=np.int64)
    matched = match >= 0
    ids[shown[matched]] = tracks.ids[match[matched]]
    left = shown[~matched]
    carried = slot.carried[left]
    keeps = (carried >= 0) & ~np.isin(carried, tracks.ids)
    fresh = int((~keeps).sum())
    ids[left] = np.where(keeps, carried, next_id + np.cumsum(~keeps) - 1)

    updated = tracks.subset(np.ones(len(tracks.ids), dtype=bool))
    rows = match[matched]
    updated.position[rows] = position[shown[matched]]
    updated.velocity[rows] = velocity[shown[matched]]
    updated.label[rows] = slot.label[shown[matched]]
    updated.seen[rows] = clock
    updated.missed += 1
    updated.missed[rows] = 0
    updated = updated.subset(updated.missed <= settings.track_max_age)
    born = Tracks(ids[left], position[left], velocity[left], slot.label[left], np.full(len(left), clock),
                  np.zeros(len(left), dtype=np.int64))
    updated = Tracks(*(np.concatenate([a, b]) for a, b in zip(
        (updated.ids, updated.position, updated.velocity, updated.label, updated.seen, updated.missed),
        (born.ids, born.position, born.velocity, born.label, born.seen, born.missed))), clock=clock)
    return SlotResult(ids=ids, suppressed=suppressed, fresh=fresh, tracks=updated)
