"""ID continuity: a fresh detection takes the ID of a carried query TAO does not show.

TAO's instance bank keeps a track ID only on the queries it carries from the
last frame; any other query that passes the decoder's score threshold gets a
fresh ID. With background supervision a carried query that has drifted off its
object is scored down, and a fresh query detects the object instead, so the
object changes ID every frame. With a gate ``g`` (metres,
``model.head.instance_bank.id_continuity_gate``), a detection that TAO would
give a fresh ID takes the ID of a carried query TAO will not show (scored below
the threshold) when both predict the same class and their box centres, in the
current frame (the carried query's box is TAO's own projection of last frame's
box, refined), lie within ``g`` in the ground plane. Closest pairs first; each
ID is shown once per frame. ``g = 0`` is TAO's own behaviour.

One batch slot at a time, on host arrays (``runtime.id_frame``): no tensor is
read here.
"""
import numpy as np

from tao_sparse4d_fix.runtime import assignment


def inherit(slot, threshold, gate):
    """Per query of one slot: the ID it takes from a donor (-1: none), and the donors whose ID was taken.

    ``slot``: an ``id_frame.Slot``. A query is a recipient when it is shown and
    carries no ID (TAO gives it a fresh one), a donor when it carries an ID but
    is not shown.
    """
    shown = slot.score >= threshold
    recipients = np.flatnonzero(shown & (slot.carried < 0))
    donors = np.flatnonzero(~shown & (slot.carried >= 0))
    taken = np.full(slot.carried.shape, -1, dtype=np.int64)
    given = np.zeros(slot.carried.shape, dtype=bool)
    if len(recipients) == 0 or len(donors) == 0:
        return taken, given
    ground = slot.position[:, :2].astype(np.float32)  # TAO's precision, as the gate was always compared
    rows, columns, distance = assignment.close_pairs(ground[recipients], ground[donors], np.float32(gate),
                                                     slot.label[recipients], slot.label[donors])
    match = assignment.greedy(rows, columns, distance, len(recipients))
    matched = match >= 0
    taken[recipients[matched]] = slot.carried[donors[match[matched]]]
    given[donors[match[matched]]] = True
    return taken, given
