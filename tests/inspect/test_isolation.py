"""The command imports neither torch nor numpy nor TAO, even where they are installed; it runs in the host venv."""
import json
import os
import subprocess
import sys

from inspect_helpers import CACHE, DATA, REPO, box, skip, stock_from_scratch, write_results, write_text

HEAVY = ("numpy", "torch", "nvidia_tao_pytorch", "nvidia_tao_core", "matplotlib", "pytorch_lightning", "hydra")
PROBE = ("import sys, io, contextlib\n"
         "sys.path.insert(0, sys.argv[1])\n"
         "from tao_sparse4d_fix.commands.cli import main\n"
         "with contextlib.redirect_stdout(io.StringIO()):\n"
         "    status = main(sys.argv[2:])\n"
         "import importlib.util, json\n"
         "print(json.dumps({'status': status, 'loaded': sorted(m for m in sys.modules if m.split('.')[0] in %r),\n"
         "                  'installed': [m for m in ('numpy', 'torch', 'nvidia_tao_pytorch') if importlib.util.find_spec(m)]}))\n"
         ) % (HEAVY,)


def inputs(tmp_path):
    tokens = [f"scene_{s:03d}_{f:06d}" for s in range(2) for f in range(3)]
    results = write_results(tmp_path / "r.json", {t: [box(0.5, 0, 0.25, tid=i), box(0.52, 9, 9, tid=10 + i)]
                                                 for i, t in enumerate(tokens)})
    spec = write_text(tmp_path / "spec.yaml", "model:\n  head:\n    num_output: 2\n")
    return ["inspect", results, "--gt", str(DATA / "info_numpy2_p5.pkl"), "-e", spec]


def probe(python, argv, env):
    done = subprocess.run([python, "-c", PROBE, str(REPO), *argv], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_nothing_heavy_is_imported_where_everything_is_installed(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("TAO_SPARSE4D_FIX", "PYTHONPATH")}
    runs = []
    tao = CACHE / "tao" / "6.25.11"
    harness_python = CACHE / "venv" / "bin" / "python"
    if harness_python.exists() and (tao / "nvidia_tao_pytorch").is_dir():
        runs.append((str(harness_python), dict(env, PYTHONPATH=str(tao))))  # torch, numpy and TAO importable
    runs.append((sys.executable, env))
    checked = []
    for python, run_env in runs:
        out = probe(python, inputs(tmp_path), run_env)
        assert out["status"] in (0, 1) and out["loaded"] == [], (python, out)
        checked += out["installed"]
    if not checked:
        skip("no Python here has numpy, torch or TAO to not import")


def test_importtime_lists_no_heavy_module(tmp_path):
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "tao_sparse4d_fix", *inputs(tmp_path), "--json"],
                          capture_output=True, text=True, cwd=REPO,
                          env={**{k: v for k, v in os.environ.items() if k != "TAO_SPARSE4D_FIX"}, "PYTHONPATH": str(REPO)})
    assert done.returncode in (0, 1), done.stderr
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert not imported & set(HEAVY), imported & set(HEAVY)
    assert "tao_sparse4d_fix" in imported and json.loads(done.stdout)


def test_the_installed_command_runs_in_the_host_venv(tmp_path):
    """The host venv (harness/testenv.py: the TAO launcher's Python, no torch, no numpy, no TAO), the
    plugin installed there non-editably (refreshed first), run from outside the repository."""
    sys.path.insert(0, str(REPO))
    from harness import testenv

    try:
        python = testenv.ensure_host()
    except Exception as error:  # no network for a first build, no python3.11
        skip(f"the host venv cannot be built here: {error}")
    script = python.parent / "tao-sparse4d-fix"
    env = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    for module in ("numpy", "torch", "yaml", "matplotlib"):
        missing = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, env=env, cwd=tmp_path)
        if module in ("numpy", "torch"):
            assert missing.returncode != 0, f"{module} is importable in the host venv"
    results = write_results(tmp_path / "r.json", stock_from_scratch())
    spec = write_text(tmp_path / "spec.yaml", "model:\n  head:\n    num_output: 128  # a comment\n")
    done = subprocess.run([str(script), "inspect", results, "-e", spec, "--json", "--plot", str(tmp_path / "p.png")],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    (m,) = json.loads(done.stdout)
    assert (m["verdict"], m["num_output"], m["num_output_from"]) == ("affected", 128, "spec")
    assert "--plot needs matplotlib" in done.stderr
    gt = subprocess.run([str(script), "inspect", results, "--gt", str(DATA / "info_numpy1_p2.pkl")],
                        capture_output=True, text=True, env=env, cwd=tmp_path)
    assert gt.returncode == 2 and "frames are not in the GT" in gt.stderr  # read without numpy, tokens differ
