"""Smoke test of the evidence benchmark: ``bench/evidence.py --quick`` end to end.

Trains the four arms for a few steps through TAO's own ``sparse4d train`` on
the CPU, runs inference and the nuscenes-devkit metrics, and checks the shape of
what it publishes -- never the values (a few steps say nothing about the fix).
Takes a few minutes (four TAO processes); marked e2e.

    python3 harness/testenv.py run --tao 6.25.11 -- python -m pytest -q -m e2e tests/bench
"""
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

pytestmark = pytest.mark.e2e

ARMS = ["original", "corrected", "unmatched_only", "rescue"]
FIGURES = ["far_query_scores.png", "training_unmatched_scores.png", "precision_recall_2m.png"]
ROW_LABELS = [
    "ground-truth boxes / frame",
    "detections / frame (score ≥ 0.05)",
    "… farther than 2 m from every object",
    "false positives / frame (2 m)",
    "precision (2 m)",
    "recall (2 m)",
    "mAP @ 0.5 m (nuScenes)",
    "mAP @ 1 m (nuScenes)",
    "mAP @ 2 m (nuScenes)",
    "mAP @ 4 m (nuScenes)",
    "new track IDs / frame (after each scene's first frame)",
    "… on far (> 2 m) detections",
    "… on near detections",
    "ID switches (total)",
    "far queries: median score",
    "far queries: fraction ≥ 0.05",
]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("evidence")
    out, work = root / "out", root / "work"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "evidence.py"), "--quick", "--out", str(out), "--workdir", str(work)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1500, cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-6000:]
    return out, work


def table_rows(report):
    """{row label: [cell, ...]} of the report's results table, and its header cells."""
    lines = [l for l in report.splitlines() if l.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return header, rows


def test_report_table_has_every_arm_and_metric(quick_run):
    out, _ = quick_run
    report = (out / "report.md").read_text()
    header, rows = table_rows(report)
    assert header[0] == "metric"
    assert len(header) == 1 + len(ARMS)
    for arm, cell in zip(ARMS, header[1:]):
        assert cell.startswith(arm), (arm, cell)
        assert re.search(r"\d+ steps", cell), cell
    for label in ROW_LABELS:
        assert label in rows, f"missing row {label!r}"
    for label, cells in rows.items():
        assert len(cells) == len(ARMS), label
        for cell in cells:
            assert math.isfinite(float(cell)), (label, cell)
    assert "QUICK smoke run" in report
    for fig in FIGURES:
        assert f"]({fig})" in report


def test_figures_written_and_small(quick_run):
    out, _ = quick_run
    for fig in FIGURES:
        data = (out / fig).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", fig
        assert 5_000 < len(data) < 300_000, (fig, len(data))


def test_results_json_numbers_are_finite(quick_run):
    out, _ = quick_run
    results = json.loads((out / "results.json").read_text())
    assert list(results["arms"]) == ARMS
    for arm, metrics in results["arms"].items():
        assert set(metrics["ap"]) == {"0.5", "1.0", "2.0", "4.0"}, arm
        for dist, ap in metrics["ap"].items():
            assert 0.0 <= ap["mAP"] <= 1.0, (arm, dist)
        for key, value in metrics.items():
            if isinstance(value, (int, float)) and value is not None:
                assert math.isfinite(value), (arm, key, value)
        assert metrics["frames"] > 0 and metrics["gt_per_frame"] > 0
        assert 0.0 <= metrics["precision_2m"] <= 1.0 and 0.0 <= metrics["recall_2m"] <= 1.0
        assert metrics["det_per_frame"] <= results["run"]["config"]["anchors"]
    arms = {a["arm"]: a for a in results["run"]["arms"]}
    assert {a["steps"] for m, a in arms.items() if m != "rescue"} == {results["run"]["config"]["steps"]}
    assert arms["rescue"]["steps"] == results["run"]["config"]["rescue_steps"]


def test_each_arm_ran_tao_with_its_mode(quick_run):
    """The plugin's status line in each TAO training log names the mode the override asked for."""
    _, work = quick_run
    expected = {"original": "original", "corrected": "corrected", "unmatched_only": "unmatched_only", "rescue": "corrected"}
    for arm, mode in expected.items():
        log = (work / f"{arm}.train.log").read_text()
        assert f"background_supervision: {mode} (from override)" in log, arm
        assert "Execution status: PASS" in log, arm
    assert "Detected TAO pipeline checkpoint format" in (work / "rescue.train.log").read_text()


def test_checkpoints_removed_unless_kept(quick_run):
    _, work = quick_run
    assert not list(work.rglob("*.pth"))
