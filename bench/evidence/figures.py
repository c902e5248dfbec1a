"""The evidence figures (matplotlib, Agg): what report.py embeds in report.md."""
import numpy as np

from bench.evidence import validity

COLORS = {"base": "tab:gray", "original": "tab:red", "corrected": "tab:green", "unmatched_only": "tab:orange",
          "rescue": "tab:blue"}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    plt = _plt()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def moving_average(y, k):
    y = np.asarray(y, float)
    if len(y) < 2 * k or k < 2:
        return y
    c = np.convolve(y, np.ones(k) / k, mode="valid")
    return np.concatenate([np.full(k - 1, np.nan), c])


def threshold_curves(path, arms, records, titles):
    """False positives and recall over the class-score threshold; false positives against recall."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for arm in arms:
        curves = [r["threshold_curve"] for r in records[arm]]
        t = [p["threshold"] for p in curves[0]]
        for ax, key in zip(axes[:2], ("fp_per_frame", "recall")):
            y = np.array([[p[key] for p in c] for c in curves])
            ax.plot(t, y.mean(0), color=COLORS[arm], lw=1.8, marker="o", ms=3, label=titles[arm])
            ax.fill_between(t, y.min(0), y.max(0), color=COLORS[arm], alpha=0.15)
        for i, c in enumerate(curves):
            axes[2].plot([p["recall"] for p in c], [p["fp_per_frame"] for p in c], color=COLORS[arm], lw=1.2,
                         marker="o", ms=2.5, alpha=0.8, label=titles[arm] if i == 0 else None)
    axes[0].set_ylabel("false positives / frame (2 m)")
    axes[0].set_yscale("symlog", linthresh=1)
    axes[1].set_ylabel("recall (2 m)")
    axes[1].set_ylim(0, 1.02)
    for ax in axes[:2]:
        ax.set_xlabel("class-score threshold (TAO's decoder: 0.05; tracking output: 0.2)")
        ax.axvline(0.05, color="k", ls="--", lw=0.8)
        ax.axvline(0.2, color="k", ls=":", lw=0.8)
    axes[2].set_xlabel("recall (2 m)")
    axes[2].set_ylabel("false positives / frame")
    axes[2].set_yscale("symlog", linthresh=1)
    axes[2].set_title("one curve per repeat, thresholds 0.05 … 0.9", fontsize=9)
    axes[0].legend(fontsize=8)
    fig.suptitle("held-out scenes: mean over repeats, band = min–max", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def floor_ratio(path, traces, titles, xlabel):
    """Loss over its constant-score floor during training; ``traces``: {arm: [(x offset, losses, floors) per repeat]}."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for arm, per_repeat in traces.items():
        for i, (offset, losses, floors) in enumerate(per_repeat):
            if not len(losses):
                continue
            ratio = np.asarray(losses) / np.maximum(floors, 1e-12)
            ax.plot(np.arange(len(ratio)) + offset, moving_average(ratio, max(1, len(ratio) // 25)), color=COLORS[arm],
                    lw=1.2, alpha=0.85, label=titles[arm] if i == 0 else None)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.axhline(validity.LEARNED_RATIO, color="k", ls="--", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss_cls (last layer) / constant-score floor")
    ax.set_title("below 1: the classifier uses its input; dashed: the 'learned' line", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def far_query_scores(path, arms, records, titles):
    """Score histograms of queries far (> 2 m) from every ground-truth box, all repeats pooled."""
    plt = _plt()
    fig, axes = plt.subplots(len(arms), 1, figsize=(7, 1.9 * len(arms)), sharex=True)
    bins = np.linspace(0, 1, 51)
    for ax, arm in zip(np.atleast_1d(axes), arms):
        s = np.concatenate([np.asarray(r["_far_scores"], float) for r in records[arm]])
        ax.hist(s, bins=bins, color=COLORS[arm], alpha=0.8)
        ax.axvline(0.05, color="k", ls="--", lw=1)
        ax.set_yscale("log")
        ax.set_ylim(0.8, max(10, len(s)) * 1.5)
        ax.set_ylabel("queries")
        ax.set_title(f"{titles[arm]}: {(s >= 0.05).mean() if s.size else 0:.0%} of {s.size} pass 0.05",
                     fontsize=9, loc="left")
    np.atleast_1d(axes)[-1].set_xlabel("max-class score of queries > 2 m from every ground-truth box (held-out scenes)")
    fig.tight_layout()
    return _save(fig, path)


def spoil_curves(path, curves, titles):
    """Detections >= 0.05 per frame and far-query score against fine-tune steps, per arm, over repeats.

    ``curves``: {arm: {"steps": [...], "detections_per_frame": [[per repeat] per step], "far_query_score_median": ...}}.
    """
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    keys = (("detections_per_frame", "detections ≥ 0.05 per frame (held-out)"),
            ("far_query_score_median", "far-from-object query score (median)"))
    for ax, (key, label) in zip(axes, keys):
        for arm, curve in curves.items():
            y = np.array(curve[key], float)  # (steps, repeats)
            x = curve["steps"]
            ax.plot(x, y.mean(1), color=COLORS[arm], lw=1.8, marker="o", ms=4, label=titles[arm])
            ax.fill_between(x, y.min(1), y.max(1), color=COLORS[arm], alpha=0.15)
        ax.set_xlabel("fine-tune steps from the learned base (rescue: continues the stock fine-tune)")
        ax.set_ylabel(label)
    axes[1].axhline(0.05, color="k", ls="--", lw=0.8)
    axes[0].legend(fontsize=8)
    fig.suptitle("how fast stock fine-tuning spoils a learned model: mean over repeats, band = min–max", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def tracking_bars(path, arms, records, titles):
    """Per arm: ID persistence, false-positive tracks per frame and fragments per track (bars: mean; dots: repeats)."""
    plt = _plt()
    panels = [("id_persistence", "ID persistence (higher is better)"),
              ("fp_tracks_per_frame", "false-positive tracks / frame (lower is better)"),
              ("fragments_per_gt_track", "IDs / ground-truth track (1 is best)")]
    fig, axes = plt.subplots(1, len(panels), figsize=(13, 3.6))
    for ax, (key, title) in zip(axes, panels):
        for x, arm in enumerate(arms):
            values = [r[key] for r in records[arm] if r.get(key) is not None]
            if values:
                ax.bar(x, np.mean(values), color=COLORS[arm], alpha=0.7)
                ax.plot([x] * len(values), values, "k.", ms=6)
        ax.set_xticks(range(len(arms)))
        ax.set_xticklabels([titles[a].split(" (")[0] for a in arms], rotation=20, fontsize=8)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
