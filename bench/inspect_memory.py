#!/usr/bin/env python3
"""inspect's peak memory and time on a results_nusc.json the size of a real validation set.

    python3 bench/inspect_memory.py [--frames 3900] [--boxes 300] [--keep DIR]

Writes a file in TAO's layout (``_format_bbox``: every box with its 11 keys,
floats at full precision as TAO's ``tolist()`` gives them, tracking ids that
persist across frames): ~512 bytes a box, so 3,900 frames x 300 boxes is
about 600 MB (6,000 x 300 is 921 MB), then runs ``tao-sparse4d-fix inspect --json`` on it
in a child process (this checkout's package, standard library only) and
reports the child's peak resident memory (``ru_maxrss``) against the file's
size, and the wall time. The promise (docs/your-files.md): at most 2x.
"""
import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODE = ("import sys; sys.path.insert(0, sys.argv[1]); from tao_sparse4d_fix.commands import cli; "
        "sys.exit(cli.main(['inspect', '--json', *sys.argv[2:]]))")


def write_results(path, frames, boxes, seed=0):
    """A results_nusc.json of ``frames`` x ``boxes`` in TAO's layout; its size in bytes."""
    rng = random.Random(seed)
    with open(path, "w") as out:
        out.write('{"meta": {"use_camera": true, "use_lidar": false, "use_radar": false, "use_map": false, '
                  '"use_external": false}, "results": {')
        for frame in range(frames):
            token = f"{rng.getrandbits(128):032x}"
            rows = []
            for query in range(boxes):
                score = rng.random()
                rows.append(json.dumps({
                    "sample_token": token,
                    "translation": [rng.uniform(-50, 50), rng.uniform(-50, 50), rng.uniform(0, 2)],
                    "size": [rng.uniform(0.4, 1), rng.uniform(0.4, 1), rng.uniform(1.5, 2)],
                    "rotation": [rng.random(), 0.0, 0.0, rng.random()],
                    "velocity": [rng.uniform(-1, 1), rng.uniform(-1, 1)],
                    "detection_name": "person", "detection_score": score, "attribute_name": "person.moving",
                    "tracking_name": "person", "tracking_score": score,
                    "tracking_id": str(query if query < boxes // 2 else frame * boxes + query)}))
            out.write(("" if frame == 0 else ", ") + json.dumps(token) + ": [" + ", ".join(rows) + "]")
        out.write("}}")
    return os.path.getsize(path)


def measure(path):
    """(exit status, peak RSS in bytes, seconds) of inspect on ``path``, in a fresh child."""
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-S", "-c", CODE, REPO, path], capture_output=True, text=True)
    seconds = time.monotonic() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"inspect failed ({done.returncode}): {done.stderr.strip()}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # kB on Linux
    return done.returncode, peak, seconds, json.loads(done.stdout)[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=3900)
    parser.add_argument("--boxes", type=int, default=300)
    parser.add_argument("--keep", metavar="DIR", help="write the file here and keep it (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or tmp
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "results_nusc.json")
        start = time.monotonic()
        size = write_results(path, args.frames, args.boxes)
        print(f"wrote {path}: {size / 1e6:.0f} MB ({args.frames} frames x {args.boxes} boxes) "
              f"in {time.monotonic() - start:.0f} s")
        status, peak, seconds, metrics = measure(path)
        print(f"inspect: exit {status}, verdict {metrics['verdict']}, {metrics['detections_total']} detections; "
              f"peak RSS {peak / 1e6:.0f} MB = {peak / size:.2f}x the file; {seconds:.1f} s")
        return 0 if peak <= 2 * size else 1


if __name__ == "__main__":
    sys.exit(main())
