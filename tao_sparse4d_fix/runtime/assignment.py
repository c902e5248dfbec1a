"""Which detections may take which IDs, and matching them, on the host, without a loop over pairs.

Candidate pairs are kept sparse: ``close_pairs`` gives the (row, column,
distance) of every pair of the same class within the gate, found on flat
coordinate arrays and square distances (no square root but for the pairs
kept). Both matchings take those pairs and return, per row, the column it
takes (-1: none).
"""
import numpy as np


def close_pairs(rows_xy, columns_xy, gate, rows_label, columns_label):
    """(rows, columns, distances) of the same-class pairs within ``gate`` (a number, or one per column) in the ground plane."""
    dx = rows_xy[:, 0, None] - columns_xy[None, :, 0]
    dy = rows_xy[:, 1, None] - columns_xy[None, :, 1]
    square = dx * dx + dy * dy
    gate = np.asarray(gate, dtype=square.dtype)
    rows, columns = np.nonzero((square <= gate * gate) & (rows_label[:, None] == columns_label[None, :]))
    return rows, columns, np.sqrt(square[rows, columns])


def greedy(rows, columns, cost, n_rows):
    """Closest pair first, each row and column once: exactly the closest-first loop over sorted pairs.

    The pairs are sorted once (cost, then row, then column: a stable sort of the
    flattened matrix). Each round takes every pair that comes first both among
    its row's pairs and among its column's (a mutually nearest pair): the
    closest-first loop takes each of them before anything touching their row or
    column, so removing them and repeating gives the same matching. A round
    costs the pairs left, which the gate keeps few; the first pair left always goes.
    """
    taken = np.full(n_rows, -1, dtype=np.int64)
    order = np.lexsort((columns, rows, cost))
    rows, columns = rows[order], columns[order]
    while rows.size:
        first = np.zeros(rows.size, dtype=bool)
        first[np.unique(rows, return_index=True)[1]] = True
        first_in_column = np.zeros(rows.size, dtype=bool)
        first_in_column[np.unique(columns, return_index=True)[1]] = True
        mutual = first & first_in_column
        taken[rows[mutual]] = columns[mutual]
        left = ~np.isin(rows, rows[mutual]) & ~np.isin(columns, columns[mutual])
        rows, columns = rows[left], columns[left]
    return taken


def hungarian(rows, columns, cost, n_rows):
    """The most pairs at the least total cost (scipy's ``linear_sum_assignment``, which TAO's matcher uses)."""
    from scipy.optimize import linear_sum_assignment

    taken = np.full(n_rows, -1, dtype=np.int64)
    if rows.size == 0:
        return taken
    live_rows, row_at = np.unique(rows, return_inverse=True)
    live_columns, column_at = np.unique(columns, return_inverse=True)
    # a pair that is not a candidate costs more than any set of candidates: chosen only where nothing else is left
    forbidden = (np.abs(cost).sum() + 1.0) * 2
    dense = np.full((live_rows.size, live_columns.size), forbidden)
    np.minimum.at(dense, (row_at, column_at), cost)  # a pair given twice counts at its lower cost
    allowed = np.zeros(dense.shape, dtype=bool)
    allowed[row_at, column_at] = True
    chosen_rows, chosen_columns = linear_sum_assignment(dense)
    keep = allowed[chosen_rows, chosen_columns]
    taken[live_rows[chosen_rows[keep]]] = live_columns[chosen_columns[keep]]
    return taken


METHODS = {"greedy": greedy, "hungarian": hungarian}
