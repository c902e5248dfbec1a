"""What a training run prints: the status table (once, on rank 0), notes and warnings.

Notes and warnings go through the standard ``logging`` module, under the
``tao_sparse4d_fix`` logger, as one line each prefixed with the plugin's name
(notes on stdout, warnings on stderr, where TAO's own lines go). A program that
configures that logger itself keeps its own handlers.
"""
import logging
import os
import sys
from dataclasses import dataclass

from tao_sparse4d_fix.runtime import modes, status, versions
from tao_sparse4d_fix._version import __version__

LOGGER = logging.getLogger("tao_sparse4d_fix")


@dataclass
class _StatusPrinted:
    """Whether this process has printed its status line (and table) already."""

    done: bool = False


_status = _StatusPrinted()
_warned = set()  # the warnings this process has written: each is written once


class _LineFormat(logging.Formatter):
    def format(self, record):
        prefix = "tao-sparse4d-fix: warning: " if record.levelno >= logging.WARNING else "tao-sparse4d-fix: "
        return prefix + record.getMessage()


class _CurrentStream(logging.StreamHandler):
    """Writes to ``sys.<name>`` as it is at each record: TAO, Lightning and test runners replace it."""

    def __init__(self, name, keep):
        self._stream_name = name
        super().__init__()
        self.addFilter(lambda record: keep(record.levelno))
        self.setFormatter(_LineFormat())

    @property
    def stream(self):
        return getattr(sys, self._stream_name)

    @stream.setter
    def stream(self, _):  # set by StreamHandler.__init__; the current sys stream is always used
        pass


def _logger():
    """The plugin's logger, given its two handlers on first use unless the program configured it."""
    if not LOGGER.handlers:
        LOGGER.addHandler(_CurrentStream("stdout", lambda level: level < logging.WARNING))
        LOGGER.addHandler(_CurrentStream("stderr", lambda level: level >= logging.WARNING))
        LOGGER.setLevel(logging.INFO)
        LOGGER.propagate = False
    return LOGGER


def is_rank_zero():
    """Global rank 0 under torchrun (RANK) or Lightning's launcher (LOCAL_RANK)."""
    if "RANK" in os.environ:
        return os.environ["RANK"] == "0"
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def is_local_rank_zero():
    return os.environ.get("LOCAL_RANK", "0") == "0"


def node():
    """(this node's index, number of nodes): torchrun's GROUP_RANK/GROUP_WORLD_SIZE, else TAO's contract.

    TAO's entrypoint takes WORLD_SIZE as the number of nodes and NODE_RANK as this
    node's index; Lightning rewrites WORLD_SIZE only when it starts its workers,
    after the criterion (and so this line) is built.
    """
    if "GROUP_WORLD_SIZE" in os.environ:
        return int(os.environ.get("GROUP_RANK", "0")), int(os.environ["GROUP_WORLD_SIZE"])
    return int(os.environ.get("NODE_RANK", "0") or 0), int(os.environ.get("WORLD_SIZE", "1") or 1)


def info(message):
    """A note: one line on stdout, prefixed with the plugin's name."""
    _logger().info(message)


def warn(message):
    """A warning: one line on stderr, once per message and process, on rank 0."""
    if message in _warned or not is_rank_zero():
        return
    _warned.add(message)
    _logger().warning(message)


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
    """The full table on global rank 0; one line on local rank 0 of every other node."""
    if _status.done or not is_local_rank_zero():
        return
    _status.done = True
    index, count = node()
    info(f"{__version__} on nvidia-tao-pytorch {versions.tao_version()}, background_supervision {state.mode} "
         f"(from {state.source}), node {index} of {count}")
    if is_rank_zero():
        print(render(status.rows(), state, stock_loss_kept), flush=True)
