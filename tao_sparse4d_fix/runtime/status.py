"""What each patch target holds in this interpreter: one row per target.

The registry writes the rows, the status table and the doctor read them. This
module imports nothing of the plugin, so anything may import it.
"""
from dataclasses import dataclass

CORE, SIDE = "core", "side"
NOT_IMPORTED = "module not imported yet"


@dataclass(frozen=True)
class PatchStatus:
    order: int  # the patch's place in ``patches.ALL``: rows print in that order
    target: str
    title: str
    role: str  # CORE or SIDE
    applied: bool
    why: str


_rows = {}  # target -> PatchStatus


def record(row):
    """Store ``row``; a real row replaces the not-imported placeholder of its patch."""
    if row.why != NOT_IMPORTED:
        for target, old in list(_rows.items()):
            if old.order == row.order and old.why == NOT_IMPORTED:
                del _rows[target]
    elif any(old.order == row.order for old in _rows.values()):
        return
    _rows[row.target] = row


def rows():
    return sorted(_rows.values(), key=lambda row: (row.order, row.target))


def clear():
    _rows.clear()
