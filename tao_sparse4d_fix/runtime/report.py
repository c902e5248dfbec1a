"""What a training run prints: the status table (once, on rank 0) and warnings."""
import os
import sys

from tao_sparse4d_fix.runtime import modes, status, versions
from tao_sparse4d_fix._version import __version__

_printed = []
_warned = set()


def is_rank_zero():
    """Global rank 0 under torchrun (RANK) or Lightning's launcher (LOCAL_RANK)."""
    if "RANK" in os.environ:
        return os.environ["RANK"] == "0"
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def warn(message):
    """One line on stderr, once per message and process, on rank 0."""
    if message in _warned or not is_rank_zero():
        return
    _warned.add(message)
    sys.stderr.write(f"tao-sparse4d-fix: warning: {message}\n")
    sys.stderr.flush()


def render(rows, state, stock_loss_kept=False):
    header = ("Target", "Role", "Applied", "Why")
    table = [header] + [(row.target, row.role, "Yes" if row.applied else "No", row.why) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    lines = [
        f"tao-sparse4d-fix {__version__} on nvidia-tao-pytorch {versions.tao_version()}",
        rule,
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
        rule,
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |" for line in table[1:]]
    summary = f"background_supervision: {state.mode} (from {state.source}): {modes.DESCRIPTIONS[state.mode]}"
    if stock_loss_kept:
        summary += " (TAO's own loss: it already supervises background)"
    lines += [rule, summary]
    return "\n".join(lines)


def print_status_once(state, stock_loss_kept=False):
    if _printed or not is_rank_zero():
        return
    _printed.append(True)
    print(render(status.rows(), state, stock_loss_kept), flush=True)
