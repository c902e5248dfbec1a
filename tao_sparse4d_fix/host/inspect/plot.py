"""``--plot FILE.png``: score histograms and detections per frame, one colour per file (matplotlib)."""
from tao_sparse4d_fix.errors import PluginError


class NoMatplotlib(PluginError):
    pass


def draw(path, metrics, names):
    """Write the figure; ``NoMatplotlib`` when it is not importable, OSError when the file cannot be written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise NoMatplotlib() from None
    figure, (scores, counts) = plt.subplots(1, 2, figsize=(12, 4.5))
    bins = [i / 40 for i in range(41)]
    for m, name in zip(metrics, names):
        if m.scores:  # each file's histogram sums to 1: files of different sizes compare
            scores.hist(m.scores, bins=bins, weights=[1 / len(m.scores)] * len(m.scores), histtype="step",
                        linewidth=1.5, label=f"{name} ({len(m.scores)} detections)")
        counts.plot(range(len(m.counts)), m.counts, linewidth=1.2, label=name)
    for cap in sorted({m.num_output for m in metrics}):
        counts.axhline(cap, linestyle="--", color="grey", linewidth=1)
        counts.annotate(f"num_output={cap}", (0, cap), textcoords="offset points", xytext=(2, 3),
                        fontsize=8, color="grey")
    scores.set(title="detection_score, all detections", xlabel="detection_score",
               ylabel="share of the file's detections", xlim=(0, 1))
    counts.set(title="detections per frame", xlabel="frame (file order)", ylabel="detections")
    counts.set_ylim(bottom=0)
    scores.legend(fontsize=8)
    counts.legend(fontsize=8)
    figure.tight_layout()
    try:
        figure.savefig(path, dpi=100)
    finally:
        plt.close(figure)
