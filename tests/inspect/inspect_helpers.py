"""Helpers for tests/inspect (a distinct name: conftests of different test folders collide).

Pure Python: these tests run under pytest and, in the host venv (no pytest, no
numpy), under tests/inspect/run_plain.py. A test takes at most a ``tmp_path``
argument; skips raise ``unittest.SkipTest`` (pytest honours it too).
"""
import contextlib
import io
import json
import os
import pickle
import subprocess
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DATA = HERE / "data"
PREFIX = "tao-sparse4d-fix inspect: error: "
CACHE = Path(os.environ.get("TSF_TEST_CACHE", Path.home() / ".cache" / "tao-sparse4d-fix"))

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tao_sparse4d_fix.commands import cli  # noqa: E402


def skip(reason):
    raise unittest.SkipTest(reason)


def box(score, x=0.0, y=0.0, tid=None, token="t"):
    """One box as TAO's _format_bbox writes it (tracking_id: str(instance id), or str(None) without one)."""
    return {"sample_token": token, "translation": [x, y, 0.5], "size": [0.6, 0.6, 1.8],
            "rotation": [1.0, 0.0, 0.0, 0.0], "velocity": [0.0, 0.0], "detection_name": "person",
            "detection_score": score, "attribute_name": "person.moving", "tracking_name": "person",
            "tracking_score": score, "tracking_id": str(tid)}


def write_results(path, frames):
    """``frames``: {token: [box, ...]} in the file's order."""
    path = Path(path)
    path.write_text(json.dumps({"meta": {"use_camera": True, "use_lidar": False}, "results": frames}))
    return str(path)


def write_text(path, text):
    Path(path).write_text(text)
    return str(path)


def write_gt(path, infos, wrap=True):
    """A GT pkl without numpy: gt_boxes as nested lists (what the numpy-free reader yields anyway)."""
    with open(path, "wb") as handle:
        pickle.dump({"infos": infos, "metadata": {"version": "test"}} if wrap else infos, handle)
    return str(path)


def info(token, centres, scene=None, timestamp=0):
    item = {"token": token, "timestamp": timestamp,
            "gt_boxes": [[x, y, 0.9, 0.6, 0.6, 1.8, 0.0] for x, y in centres],
            "gt_names": ["person"] * len(centres), "instance_inds": list(range(len(centres)))}
    if scene is not None:
        item["scene_name"] = scene
    return item


def run(*argv):
    """``tao-sparse4d-fix inspect ARGV`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(["inspect", *map(str, argv)])
        except SystemExit as exit_:  # argparse
            status = exit_.code
    return status, out.getvalue(), err.getvalue()


def run_json(*argv):
    status, out, err = run(*argv, "--json")
    assert status in (0, 1), (status, err)
    return status, json.loads(out)


def bad(*argv):
    """The one error line of a refused input (asserting exit status 2, no stdout, no traceback)."""
    status, out, err = run(*argv)
    assert status == 2, (status, out, err)
    assert out == "", out
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(PREFIX), lines[0]
    return lines[0][len(PREFIX):]


def approx(a, b, tol=1e-9):
    return a is not None and b is not None and abs(a - b) <= tol


# --- constructed runs -------------------------------------------------------

def stock_from_scratch(frames=20, queries=128, scenes=2, temporal=64):
    """Every query the same score (~0.48, spread ~0.01), all of them above the threshold: at the cap."""
    out, fresh = {}, 10_000
    for k in range(frames):
        token = f"scene_{k * scenes // frames:03d}_{k:06d}"
        boxes = []
        for q in range(queries):
            if q >= temporal:
                fresh += 1
            boxes.append(box(0.475 + 0.01 * ((q * 37 + k) % 11) / 10, x=(q % 16) * 3.0, y=(q // 16) * 3.0,
                             tid=q if q < temporal else fresh, token=token))
        out[token] = boxes
    return out


def stock_fine_tuned(frames=20, per_frame=91, temporal=64):
    """Not at the cap, wide scores, the non-temporal queries with fresh IDs every frame."""
    out, fresh = {}, 10_000
    for k in range(frames):
        token = f"scene_000_{k:06d}"
        boxes = []
        for q in range(per_frame):
            if q >= temporal:
                fresh += 1
            boxes.append(box(0.2 + 0.7 * ((q * 13 + k) % 29) / 28, x=(q % 10) * 3.0, y=(q // 10) * 3.0,
                             tid=q if q < temporal else fresh, token=token))
        out[token] = boxes
    return out


def fixed_like(frames=20, per_frame=(5, 6, 7, 8)):
    """A handful of detections per frame, wide scores, IDs that persist."""
    out = {}
    for k in range(frames):
        token = f"scene_000_{k:06d}"
        n = per_frame[k % len(per_frame)]
        out[token] = [box(0.25 + 0.7 * q / max(n - 1, 1), x=q * 4.0, y=0.0, tid=q, token=token) for q in range(n)]
    return out


# --- interpreters -------------------------------------------------------------

def no_numpy_python():
    """A command for a Python without numpy: this interpreter, isolated (-I) and without site-packages (-S)."""
    return [sys.executable, "-I", "-S"]


def numpy_pythons():
    """[(label, python)] of the interpreters here that have numpy (the harness venv: numpy 2; the
    evidence venv of bench/evidence: numpy 1.x; this one), each numpy version once."""
    candidates = [CACHE / "venv" / "bin" / "python", *sorted(CACHE.glob("evidence-venv-*/bin/python")),
                  Path(sys.executable)]
    found, versions = [], set()
    for python in candidates:
        if not python.exists():
            continue
        probe = subprocess.run([str(python), "-c", "import numpy; print(numpy.__version__)"],
                               capture_output=True, text=True)
        version = probe.stdout.strip()
        if probe.returncode == 0 and version not in versions:
            versions.add(version)
            found.append((f"numpy {version}", str(python)))
    return found


def load_without_numpy(pkl):
    """repr() of the numpy-free load of ``pkl``, run in a Python that cannot import numpy."""
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "try:\n    import numpy\nexcept ImportError:\n    pass\n"
            "else:\n    raise SystemExit('numpy is importable here')\n"
            "from tao_sparse4d_fix.host.inspect import numpy_free\n"
            "with open(sys.argv[2], 'rb') as f:\n    print(repr(numpy_free.load(f)))\n"
            "assert 'numpy' not in sys.modules\n")
    done = subprocess.run([*no_numpy_python(), "-c", code, str(REPO), str(pkl)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
