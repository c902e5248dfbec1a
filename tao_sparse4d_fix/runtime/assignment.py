"""Matching detections to what they may take an ID from, on the host, without a loop over pairs.

``cost`` is a [detections, candidates] array whose disallowed pairs are ``inf``.
Both return, per detection, the candidate it takes (-1: none).
"""
import numpy as np


def greedy(cost):
    """Closest pair first, each row and column once: exactly the closest-first loop over sorted pairs.

    Each round takes every mutually nearest pair (a row's smallest entry that is
    also its column's smallest; ties to the lower index, as a stable sort would):
    the closest-first loop takes each of them before anything touching their row
    or column, so removing them and repeating gives the same matching. At most
    ``min(rows, columns)`` rounds, usually a few.
    """
    cost = np.array(cost, dtype=np.float64)
    rows, columns = cost.shape
    taken = np.full(rows, -1, dtype=np.int64)
    if rows == 0 or columns == 0:
        return taken
    index = np.arange(rows)
    while True:
        best_column = cost.argmin(axis=1)
        best_row = cost.argmin(axis=0)
        mutual = np.isfinite(cost[index, best_column]) & (best_row[best_column] == index)
        if not mutual.any():
            return taken
        chosen_rows, chosen_columns = index[mutual], best_column[mutual]
        taken[chosen_rows] = chosen_columns
        cost[chosen_rows, :] = np.inf
        cost[:, chosen_columns] = np.inf


def hungarian(cost):
    """The least total cost over allowed pairs (scipy's ``linear_sum_assignment``, which TAO's matcher uses)."""
    from scipy.optimize import linear_sum_assignment

    cost = np.asarray(cost, dtype=np.float64)
    taken = np.full(cost.shape[0], -1, dtype=np.int64)
    allowed = np.isfinite(cost)
    if not allowed.any():
        return taken
    # a disallowed pair costs more than any set of allowed ones: it is only chosen where nothing else is left
    forbidden = (np.abs(cost[allowed]).sum() + 1.0) * 2
    rows, columns = linear_sum_assignment(np.where(allowed, cost, forbidden))
    keep = allowed[rows, columns]
    taken[rows[keep]] = columns[keep]
    return taken


METHODS = {"greedy": greedy, "hungarian": hungarian}
