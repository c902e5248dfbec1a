"""The --json contract, the side-by-side table, and --plot with and without matplotlib."""
import json
import re
import subprocess
import sys

from inspect_helpers import (CACHE, REPO, fixed_like, info, run, run_json, skip, stock_from_scratch, write_gt,
                             write_results)

REQUIRED = {"file": str, "frames": int, "detections_per_frame_mean": float, "frames_at_cap": int,
            "num_output": int, "num_output_from": str, "score_median": float, "score_spread_mean": float,
            "verdict": str, "reasons": list}
WITH_GT = ("fp_per_frame", "precision_2m", "recall_2m")


def two_files(tmp_path):
    return (write_results(tmp_path / "before.json", stock_from_scratch()),
            write_results(tmp_path / "after.json", fixed_like()))


def test_json_contract(tmp_path):
    before, after = two_files(tmp_path)
    status, out = run_json(before, after, "--num-output", 128)
    assert status == 1 and [m["file"] for m in out] == [before, after]
    for m in out:
        for key, kind in REQUIRED.items():
            assert isinstance(m[key], kind), (key, m[key])
        assert m["verdict"] in ("affected", "not_affected", "unclear")
        assert m["num_output_from"] in ("spec", "option", "default")
        assert all(isinstance(r, str) for r in m["reasons"]) and m["reasons"]
        assert all(m[key] is None for key in WITH_GT)  # no --gt
    assert [m["verdict"] for m in out] == ["affected", "not_affected"]


def test_json_with_gt(tmp_path):
    frames = fixed_like()
    gt = write_gt(tmp_path / "gt.pkl", [info(token, [(0.0, 0.0)]) for token in frames])
    _, (m,) = run_json(write_results(tmp_path / "r.json", frames), "--gt", gt)
    for key in WITH_GT:
        assert isinstance(m[key], float), key
    assert m["recall_2m"] == 1.0  # every frame's first detection sits on (0, 0)


def test_table_side_by_side(tmp_path):
    before, after = two_files(tmp_path)
    status, out, err = run(before, after, "--num-output", 128)
    assert status == 1 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["before.json", "after.json"]
    rows = {cells[0]: cells[1:] for cells in (re.split(r"\s{2,}", line.strip()) for line in lines[1:lines.index("")])}
    assert rows["frames"] == ["20", "20"]
    assert rows["detections per frame: mean"] == ["128.0", "6.5"]
    assert rows["p5 / p50 / p95"] == ["128.0 / 128.0 / 128.0", "5.0 / 6.5 / 8.0"]
    assert rows["num_output (from)"] == ["128 (option)", "128 (option)"]
    assert rows["frames at the cap"] == ["20 (100%)", "0 (0%)"]
    assert rows["score spread in a frame (mean)"] == ["0.010", "0.700"]
    assert rows["verdict"] == ["affected", "not_affected"]
    assert "before.json: affected: 2 signal(s) fired: at_cap, flat_scores" in lines
    assert "after.json: not_affected: no signal fired" in lines


def test_same_names_in_different_folders_show_their_paths(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write_results(tmp_path / "a" / "results_nusc.json", fixed_like())
    b = write_results(tmp_path / "b" / "results_nusc.json", fixed_like())
    _, out, _ = run(a, b)
    assert out.splitlines()[0].split() == [a, b]


def test_table_with_gt_and_common_recall(tmp_path):
    frames = fixed_like()
    gt = write_gt(tmp_path / "gt.pkl", [info(token, [(0.0, 0.0), (4.0, 0.0)]) for token in frames])
    after = write_results(tmp_path / "after.json", frames)
    stock = stock_from_scratch()
    before = write_results(tmp_path / "before.json", dict(zip(frames, stock.values())))  # same tokens as the GT
    _, out, _ = run(before, after, "--num-output", 128, "--gt", gt)
    for label in ("GT boxes per frame", "false positives per frame (2 m)", "precision / recall (2 m)",
                  "common recall", "  at score threshold", "  false positives per frame"):
        assert any(line.startswith(label) for line in out.splitlines()), label


def test_plot_without_matplotlib_notes_it_and_still_reports(tmp_path):
    before, after = two_files(tmp_path)
    blocked = ("import sys, importlib.abc\n"
               "class Block(importlib.abc.MetaPathFinder):\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name.split('.')[0] == 'matplotlib':\n"
               "            raise ImportError('blocked for the test')\n"
               "sys.meta_path.insert(0, Block())\n"
               "sys.path.insert(0, sys.argv[1])\n"
               "from tao_sparse4d_fix.commands.cli import main\n"
               "sys.exit(main(sys.argv[2:]))\n")
    png = tmp_path / "plot.png"
    done = subprocess.run([sys.executable, "-c", blocked, str(REPO), "inspect", before, after, "--num-output", "128",
                           "--plot", str(png)], capture_output=True, text=True)
    assert done.returncode == 1  # as for the verdicts
    assert done.stderr == (f"tao-sparse4d-fix inspect: note: --plot needs matplotlib, which is not importable here "
                           f"(pip install matplotlib); {png} not written\n")
    assert "verdict" in done.stdout and not png.exists()


def test_plot_with_matplotlib(tmp_path):
    pythons = [sys.executable, str(CACHE / "venv" / "bin" / "python")]
    python = next((p for p in pythons if subprocess.run([p, "-c", "import matplotlib"], capture_output=True).returncode == 0), None)
    if python is None:
        skip("no Python with matplotlib here")
    before, after = two_files(tmp_path)
    png = tmp_path / "plot.png"
    done = subprocess.run([python, "-m", "tao_sparse4d_fix", "inspect", before, after, "--num-output", "128",
                           "--plot", str(png), "--json"], capture_output=True, text=True, cwd=REPO,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg",
                               "MPLCONFIGDIR": str(tmp_path)})
    assert done.returncode == 1, done.stderr
    assert [m["verdict"] for m in json.loads(done.stdout)] == ["affected", "not_affected"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = subprocess.run([python, "-m", "tao_sparse4d_fix", "inspect", before, "--plot", str(tmp_path / "no" / "p.png")],
                         capture_output=True, text=True, cwd=REPO,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "MPLCONFIGDIR": str(tmp_path)})
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1, bad.stderr
    assert bad.stderr.startswith(f"tao-sparse4d-fix inspect: error: {tmp_path / 'no' / 'p.png'}: cannot write the plot: ")


def test_help_names_the_pickle_promise_and_exit_statuses():
    status, out, _ = run("--help")
    assert status == 0
    flat = " ".join(out.split())
    assert "without numpy and without running any of its code" in flat
    assert "a pickle naming anything else is refused (exit 2)" in flat
    assert ("Exit status: 0 no file affected, 1 a file is affected, 2 bad input (one line on stderr per problem, "
            "no table), 3 an internal error (one line; never a verdict)") in flat
