"""A frame's track IDs decided on the host copy (``runtime.id_frame``), per batch slot.

``by_continuity``: ID continuity (``runtime.continuity``); ``by_tracker``: the
tracker's life cycle (``runtime.tracker``). Both number fresh IDs in TAO's order
from the bank's counter and return what the bank's patch writes back: the shown
and the bank IDs as (batch, queries) arrays, the next ID, the tracks. Kept out of
the patch module so that importing the registry needs no numpy.
"""
import numpy as np

from tao_sparse4d_fix.runtime import continuity, id_settings, tracker


def by_continuity(frame, threshold, gate):
    """Per slot: the IDs with ID continuity (a donor's query loses its ID), fresh ones numbered in TAO's order."""
    bank_ids, next_id = [], frame.first_id
    for slot in frame.slots:
        taken, given = continuity.inherit(slot, threshold, gate)
        shown = slot.score >= threshold
        fresh = shown & (slot.carried < 0) & (taken < 0)
        ids = np.where(given, -1, np.where(slot.carried >= 0, slot.carried, taken))
        ids[fresh] = next_id + np.arange(int(fresh.sum()))
        next_id += int(fresh.sum())
        bank_ids.append(ids)
    shown = np.stack(bank_ids)
    return shown, shown.copy(), next_id, None  # two buffers: the bank's tensor may share its array's memory


def by_tracker(frame, threshold, settings, previous):
    """Per slot: shown IDs (``SUPPRESSED`` for duplicates) and bank IDs from the tracker; its new Tracks."""
    shown_ids, bank_ids, tracks, next_id = [], [], [], frame.first_id
    if not frame.carried_any or previous is None or len(previous) != len(frame.slots):
        previous = [tracker.Tracks() for _ in frame.slots]
    for slot, before in zip(frame.slots, previous):
        result = tracker.step(slot, before, settings, threshold, next_id)
        next_id += result.fresh
        shown = result.ids >= 0
        taken_elsewhere = ~shown & np.isin(slot.carried, result.ids[shown])  # an ID shows on one query only
        bank = np.where(shown, result.ids, np.where(taken_elsewhere | result.suppressed, -1, slot.carried))
        shown_ids.append(np.where(result.suppressed, id_settings.SUPPRESSED, bank))
        bank_ids.append(bank)
        tracks.append(result.tracks)
    return np.stack(shown_ids), np.stack(bank_ids), next_id, tracks
