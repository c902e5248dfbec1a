"""Smoke test of the evidence benchmark: ``bench/evidence.py --quick`` end to end.

Trains the four arms for a few steps through TAO's own ``sparse4d train`` on
the CPU (two repeats), runs inference and the nuscenes-devkit metrics, and checks
the shape of what it publishes and its validity labels -- never the effect (three
steps cannot leave the constant-score floor, so every comparison must be inconclusive).
Takes a few minutes (eight TAO processes, two at a time); marked e2e.

    python3 harness/testenv.py run --tao 6.25.11 -- python -m pytest -q tests/bench
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
FIGURES = ["threshold_curves.png", "floor_ratio.png", "far_query_scores.png"]
RECORD_KEYS = ["detections_per_frame", "fp_per_frame", "precision_2m", "recall_2m", "far_detections_per_frame",
               "new_ids_per_frame", "id_switches_per_matched_gt", "learned", "fp_per_frame_at_matched_recall",
               "untracked_per_frame", "floor_ratio", "validity", "threshold_curve", "ap", "steps_run"]
QUICK_REPEATS = 2


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


def section(report, title):
    """The markdown table lines of one '## ' section of the report."""
    body = report.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    return [line for line in body.splitlines() if line.startswith("|")]


def cells(line):
    return [c.strip() for c in line.strip("|").split("|")]


def test_every_arm_and_repeat_gets_a_validity_label(quick_run):
    out, _ = quick_run
    report = (out / "report.md").read_text()
    lines = section(report, "1. Is each run conclusive?")
    assert cells(lines[0])[1:1 + QUICK_REPEATS] == [f"repeat {i}" for i in range(QUICK_REPEATS)]
    labelled = {}
    for line in lines[2:]:
        row = cells(line)
        labelled[row[0].split(" ")[0]] = row[1:1 + QUICK_REPEATS]
    assert list(labelled) == ARMS
    results = json.loads((out / "results.json").read_text())
    for arm, labels in labelled.items():
        for label, record in zip(labels, results["arms"][arm]):
            expected = "learned (" if record["learned"] else "NOT BELOW ITS FLOOR ("
            assert label.startswith(expected), (arm, label)


def test_quick_comparisons_are_inconclusive(quick_run):
    """Three steps cannot take a classifier below its floor: the report must not claim an effect."""
    out, _ = quick_run
    results = json.loads((out / "results.json").read_text())
    assert not any(r["learned"] for records in results["arms"].values() for r in records)
    report = (out / "report.md").read_text()
    for title in ("3. Against stock TAO", "4. `corrected` against `unmatched_only`"):
        lines = section(report, title)
        assert len(lines) > 4, title
        for line in lines[2:]:
            for verdict in cells(line)[1:]:
                assert verdict == "inconclusive (an arm at its floor in every repeat)", line


def test_results_table_has_every_arm_and_metric(quick_run):
    out, _ = quick_run
    report = (out / "report.md").read_text()
    lines = section(report, "2. Results on held-out scenes")
    header = cells(lines[0])
    assert header[0] == "metric" and len(header) == 1 + len(ARMS)
    for arm, cell in zip(ARMS, header[1:]):
        assert cell.startswith(arm), (arm, cell)
        assert re.search(r"\d+ steps", cell), cell
    for line in lines[2:]:
        row = cells(line)
        assert len(row) == 1 + len(ARMS), row
        for cell in row[1:]:
            assert cell == "n/a" or math.isfinite(float(cell.split(" ")[0])), (row[0], cell)
    assert "QUICK smoke run" in report
    for fig in FIGURES:
        assert f"]({fig})" in report


def test_figures_written_and_small(quick_run):
    out, _ = quick_run
    for fig in FIGURES:
        data = (out / fig).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", fig
        assert 5_000 < len(data) < 300_000, (fig, len(data))


def test_results_json_has_one_record_per_repeat(quick_run):
    out, _ = quick_run
    results = json.loads((out / "results.json").read_text())
    assert results["repeats"] == QUICK_REPEATS
    assert list(results["arms"]) == ARMS
    for arm, records in results["arms"].items():
        assert len(records) == QUICK_REPEATS, arm
        for record in records:
            assert set(RECORD_KEYS) <= set(record), (arm, set(RECORD_KEYS) - set(record))
            assert isinstance(record["learned"], bool)
            assert 0.0 <= record["precision_2m"] <= 1.0 and 0.0 <= record["recall_2m"] <= 1.0
            assert record["detections_per_frame"] <= results["run"]["config"]["anchors"]
            assert record["floor_ratio"] > 0 and math.isfinite(record["floor_ratio"])
            assert [p["threshold"] for p in record["threshold_curve"]][:2] == [0.05, 0.1]
        steps = {r["steps_run"] for r in records}
        assert steps == {results["run"]["config"]["rescue_steps" if arm == "rescue" else "steps"]}, (arm, steps)
        for key, summary in results["summary"][arm].items():
            if summary is not None:
                assert summary["min"] <= summary["mean"] <= summary["max"], (arm, key)


def test_each_arm_ran_tao_with_its_mode(quick_run):
    """The plugin's status line in each TAO training log names the mode the override asked for."""
    _, work = quick_run
    expected = {"original": "original", "corrected": "corrected", "unmatched_only": "unmatched_only", "rescue": "corrected"}
    for repeat in range(QUICK_REPEATS):
        for arm, mode in expected.items():
            log = (work / f"repeat{repeat}" / f"{arm}.train.log").read_text()
            assert f"background_supervision: {mode} (from override)" in log, (repeat, arm)
            assert "Execution status: PASS" in log, (repeat, arm)
        assert "Detected TAO pipeline checkpoint format" in (work / f"repeat{repeat}" / "rescue.train.log").read_text()


def test_checkpoints_removed_unless_kept(quick_run):
    _, work = quick_run
    assert not list(work.rglob("*.pth"))
