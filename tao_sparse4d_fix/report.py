"""The status table a training run prints once, on rank 0."""
import os

from tao_sparse4d_fix import __version__, modes, registry, versions

_printed = []


def is_rank_zero():
    """Global rank 0 under torchrun (RANK) or Lightning's launcher (LOCAL_RANK)."""
    if "RANK" in os.environ:
        return os.environ["RANK"] == "0"
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def render(rows, mode, source):
    header = ("Target", "Applied", "Why")
    table = [header] + [(row.target, "Yes" if row.applied else "No", row.why) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(3)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    lines = [
        f"tao-sparse4d-fix {__version__} on nvidia-tao-pytorch {versions.tao_version()}",
        rule,
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
        rule,
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |" for line in table[1:]]
    lines += [rule, f"background_supervision: {mode} (from {source}): {modes.DESCRIPTIONS[mode]}"]
    return "\n".join(lines)


def print_status_once(mode, source):
    if _printed or not is_rank_zero():
        return
    _printed.append(True)
    print(render(registry.statuses(), mode, source), flush=True)
