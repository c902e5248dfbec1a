#!/usr/bin/env python3
"""Interpreter start-up cost of the plugin: ``python -c pass`` with and without it.

Variants, all ``<venv>/bin/python -c pass`` from one base interpreter:

  a   venv A: no plugin (wrapt installed, so the only difference is the plugin)
  a'  venv A again: an A/A control, shows the noise floor of the method
  b   venv B: plugin installed (wheel, non-editable), TAO_SPARSE4D_FIX unset
  c   venv B, TAO_SPARSE4D_FIX=1

Runs are interleaved: every round starts each variant once, in a fresh random
order, so drift (other load, CPU frequency) hits all variants alike. Reported:
median wall time, IQR, ratio of medians to ``a`` with a bootstrap 95% interval
(resampling rounds), the per-round paired ratio, child CPU time, the modules
the plugin adds at start, and the goals b/a <= 1.02, c/a <= 1.10, with no torch,
numpy, wrapt or TAO module imported at start.

    python3 bench/startup.py                     # 200 rounds
    python3 bench/startup.py --quick             # 20 rounds
    python3 bench/startup.py --out results/startup.md --rounds 500

Use a real interpreter binary for --python (not a pyenv shim: the shim is a
shell script and would dominate the numbers); by default the one running this.
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "tao_sparse4d_fix"
PTH = "tao_sparse4d_fix.pth"
ROOT_BUILD_FILES = ("setup.py", "setup.cfg", "pyproject.toml", "README.md", "MANIFEST.in", "LICENSE", PTH)
ENV_VAR = "TAO_SPARSE4D_FIX"
FORBIDDEN = ("torch", "numpy", "wrapt", "nvidia_tao_pytorch", "nvidia_tao_core")
GOALS = {"b": 1.02, "c": 1.10}
LABELS = {
    "a": "a: no plugin",
    "a2": "a': no plugin (A/A control)",
    "b": "b: plugin, TAO_SPARSE4D_FIX unset",
    "c": "c: plugin, TAO_SPARSE4D_FIX=1",
}
MODULES_CODE = 'import sys; sys.stdout.write("\\n".join(sorted(sys.modules)))'


# --------------------------------------------------------------------------- environments


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout.strip()


def clean_env(value=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", ENV_VAR, "PYENV_VERSION"))}
    if value is not None:
        env[ENV_VAR] = value
    return env


def package_files():
    files = [(name, REPO / name) for name in ROOT_BUILD_FILES if (REPO / name).is_file()]
    for path in sorted((REPO / PACKAGE).rglob("*")):
        rel = path.relative_to(REPO)
        if path.is_file() and "__pycache__" not in rel.parts and path.suffix != ".pyc":
            files.append((rel.as_posix(), path))
    return files


def base_interpreter(python):
    """The real binary behind ``python`` (through shims and venvs)."""
    code = "import os, sys; print(os.path.realpath(getattr(sys, '_base_executable', sys.executable)))"
    return run([python, "-c", code], env=clean_env())


def build(base, workdir):
    """Wheel of a clean copy of the sources, venv A (wrapt) and venv B (plugin + wrapt)."""
    files = package_files()
    digest = hashlib.sha256(base.encode() + run([base, "-c", "import sys; print(sys.version)"]).encode())
    for rel, path in files:
        digest.update(b"\0" + rel.encode() + b"\0" + path.read_bytes())
    key = digest.hexdigest()[:16]
    stamp = workdir / "ready.json"
    if stamp.exists() and json.loads(stamp.read_text()).get("key") == key:
        log(f"reusing {workdir}")
        return json.loads(stamp.read_text())
    for sub in ("src", "wheel", "A", "B"):
        shutil.rmtree(workdir / sub, ignore_errors=True)
    stamp.unlink(missing_ok=True)
    src = workdir / "src"
    for rel, path in files:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, src / rel)
    log("building the wheel ...")
    pip_env = clean_env()
    run([base, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q", "-w", str(workdir / "wheel"), str(src)], env=pip_env)
    (wheel,) = (workdir / "wheel").glob("tao_sparse4d_fix-*.whl")
    shutil.rmtree(src)
    log("building venv A (no plugin) and venv B (plugin) ...")
    for name in ("A", "B"):
        run([base, "-m", "venv", str(workdir / name)], env=pip_env)
    py_a, py_b = workdir / "A" / "bin" / "python", workdir / "B" / "bin" / "python"
    run([py_b, "-m", "pip", "install", "--disable-pip-version-check", "-q", str(wheel)], env=pip_env)
    wrapt_version = run([py_b, "-c", "import wrapt; print(wrapt.__version__)"], env=pip_env)
    run([py_a, "-m", "pip", "install", "--disable-pip-version-check", "-q", f"wrapt=={wrapt_version}"], env=pip_env)
    info = {
        "key": key,
        "wheel": wheel.name,
        "a": str(py_a),
        "b": str(py_b),
        "wrapt": wrapt_version,
        "plugin": run([py_b, "-c", "import importlib.metadata as m; print(m.version('tao-sparse4d-fix'))"], env=pip_env),
    }
    for name, py in (("a", py_a), ("b", py_b)):
        site = Path(run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], env=pip_env))
        info[f"pth_{name}"] = sorted(p.name for p in site.glob("*.pth"))
    stamp.write_text(json.dumps(info, indent=1))
    return info


# --------------------------------------------------------------------------- measuring


def variants(info):
    return {
        "a": (info["a"], clean_env()),
        "a2": (info["a"], clean_env()),
        "b": (info["b"], clean_env()),
        "c": (info["b"], clean_env("1")),
    }


def spawn_once(python, env, devnull):
    """Wall seconds and child CPU seconds of one ``python -c pass``."""
    start = time.perf_counter()
    pid = os.posix_spawn(python, [python, "-c", "pass"], env,
                         file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)])
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{python} -c pass failed: status {status}")
    return wall, usage.ru_utime + usage.ru_stime


def check_silent(var):
    """Each variant must start with exit 0 and print nothing."""
    for name, (python, env) in var.items():
        proc = subprocess.run([python, "-c", "pass"], env=env, capture_output=True)
        if proc.returncode or proc.stdout or proc.stderr:
            raise SystemExit(f"variant {name} is not silent: rc={proc.returncode} {proc.stdout!r} {proc.stderr!r}")


def measure(var, rounds, warmup, seed):
    rng = random.Random(seed)
    envs = {name: (python, dict(env)) for name, (python, env) in var.items()}
    wall = {name: [] for name in var}
    cpu = {name: [] for name in var}
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for _ in range(warmup):
            for python, env in envs.values():
                spawn_once(python, env, devnull)
        order = list(var)
        for i in range(rounds):
            rng.shuffle(order)
            for name in order:
                w, c = spawn_once(envs[name][0], envs[name][1], devnull)
                wall[name].append(w)
                cpu[name].append(c)
            if (i + 1) % 50 == 0:
                log(f"  {i + 1}/{rounds} rounds")
    finally:
        os.close(devnull)
    return wall, cpu


def modules(python, env):
    out = subprocess.run([python, "-c", MODULES_CODE], env=env, capture_output=True, text=True, check=True)
    return set(out.stdout.split("\n"))


# --------------------------------------------------------------------------- statistics


def quartiles(xs):
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[1], q[2]


def bootstrap_ratio(num, den, seed, resamples=2000):
    """95% interval of median(num)/median(den), resampling whole rounds (keeps the pairing)."""
    rng = random.Random(seed)
    n = len(num)
    ratios = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        ratios.append(statistics.median(num[i] for i in idx) / statistics.median(den[i] for i in idx))
    ratios.sort()
    return ratios[int(0.025 * resamples)], ratios[int(0.975 * resamples) - 1]


def machine_info(base, info):
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    governor = "?"
    gov = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    if gov.exists():
        governor = gov.read_text().strip()
    version = run([base, "-c", "import sys; print(sys.version.split()[0])"])
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "host": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpu": f"{cpu} ({os.cpu_count()} logical CPUs, governor {governor})",
        "python": f"{version} at {base}",
        "plugin": f"tao-sparse4d-fix {info['plugin']} ({info['wheel']}), wrapt {info['wrapt']}",
        "pth_a": ", ".join(info["pth_a"]) or "none",
        "pth_b": ", ".join(info["pth_b"]) or "none",
    }


def report(args, base, info, wall, cpu, mods, load_before, load_after, elapsed):
    """The markdown report and whether every goal is met."""
    ms = {name: [x * 1000 for x in xs] for name, xs in wall.items()}
    cpu_ms = {name: [x * 1000 for x in xs] for name, xs in cpu.items()}
    rounds = len(ms["a"])
    lines = ["# Interpreter start-up: `python -c pass` with and without tao-sparse4d-fix", "",
             f"{rounds} interleaved rounds (each round runs every variant once, in random order; seed {args.seed}), "
             f"after {args.warmup} warm-up rounds; {elapsed:.1f} s in all.", ""]
    table, ratios, cpu_ratios = _timing_table(ms, cpu_ms, args.seed)
    module_lines, bad = _module_lines(mods)
    goal_lines, ok = _goal_lines(ratios, cpu_ratios, bad)
    spread = _spread_lines(ms, ratios, load_before, load_after)
    machine = [f"- {key}: {value}" for key, value in machine_info(base, info).items()]
    lines += table + [""] + spread + [""] + module_lines + [""] + goal_lines + ["", "Machine:", ""] + machine
    lines += ["", "Notes: a and b/c are two venvs of the same base interpreter with the same wrapt, so they differ "
              "only by the plugin's .pth and package. In a venv CPython's site.py processes every .pth file twice; the "
              "plugin's line evaluates its condition both times but activates once (a flag on sys)."]
    return "\n".join(lines) + "\n", ok


def _timing_table(ms, cpu_ms, seed):
    """The table of wall and CPU times per variant, and the ratios of medians to a (wall, CPU)."""
    med = {name: statistics.median(xs) for name, xs in ms.items()}
    cpu_med = {name: statistics.median(xs) for name, xs in cpu_ms.items()}
    lines = ["| variant | median ms | IQR ms (q1–q3) | ratio to a | 95% CI of ratio | paired ratio median (IQR) "
             "| CPU median ms | CPU ratio (95% CI) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    ratios = {name: med[name] / med["a"] for name in LABELS}
    cpu_ratios = {name: cpu_med[name] / cpu_med["a"] for name in LABELS}
    for name in LABELS:
        q1, _, q3 = quartiles(ms[name])
        cpu_ci = ""
        if name == "a":
            ci = paired = "—"
        else:
            clo, chi = bootstrap_ratio(cpu_ms[name], cpu_ms["a"], seed)
            cpu_ci = f" ({clo:.3f}–{chi:.3f})"
            lo, hi = bootstrap_ratio(ms[name], ms["a"], seed)
            ci = f"{lo:.3f}–{hi:.3f}"
            p1, pm, p3 = quartiles([x / y for x, y in zip(ms[name], ms["a"])])
            paired = f"{pm:.3f} ({p1:.3f}–{p3:.3f})"
        lines.append(f"| {LABELS[name]} | {med[name]:.2f} | {q3 - q1:.2f} ({q1:.2f}–{q3:.2f}) | {ratios[name]:.3f} | "
                     f"{ci} | {paired} | {cpu_med[name]:.2f} | {cpu_ratios[name]:.3f}{cpu_ci} |")
    return lines, ratios, cpu_ratios


def _spread_lines(ms, ratios, load_before, load_after):
    """How far apart runs of the same variant are: the A/A control, the no-plugin spread, drift, load."""
    half = len(ms["a"]) // 2
    a_all = ms["a"] + ms["a2"]
    q1, _, q3 = quartiles(a_all)
    lines = ["Run-to-run spread:", "",
             f"- A/A control a'/a = {ratios['a2']:.3f}: the same venv measured twice per round; the distance from "
             "1.000 is the resolution of this measurement.",
             f"- no-plugin runs (a and a', n={len(a_all)}): min {min(a_all):.2f} ms, median "
             f"{statistics.median(a_all):.2f} ms, max {max(a_all):.2f} ms, relative IQR "
             f"{(q3 - q1) / statistics.median(a_all) * 100:.1f}%, stdev {statistics.stdev(a_all):.2f} ms."]
    if half >= 2:
        first, second = statistics.median(ms["a"][:half]), statistics.median(ms["a"][half:])
        lines.append(f"- drift: median of a over the first half {first:.2f} ms, second half {second:.2f} ms "
                     f"({(second / first - 1) * 100:+.1f}%).")
    lines.append(f"- load average before {load_before}, after {load_after}. Wall time includes waiting for a CPU; "
                 "on a loaded machine the child CPU time (user+sys, from wait4) is the steadier measure.")
    return lines


def _module_lines(mods):
    """The modules the plugin adds at start (b, c against a), and the forbidden ones among them."""
    added_b = sorted(mods["b"] - mods["a"])
    added_c = sorted(mods["c"] - mods["a"])
    removed = sorted((mods["a"] - mods["b"]) | (mods["a"] - mods["c"]))
    bad = sorted(m for m in mods["c"] | mods["b"] if m.split(".")[0] in FORBIDDEN)
    lines = ["Modules the plugin imports at start (`sys.modules` of the variant minus that of a):", "",
             f"- b (unset): {', '.join(f'`{m}`' for m in added_b) or 'none'}",
             f"- c (=1): {', '.join(f'`{m}`' for m in added_c) or 'none'}"]
    if removed:
        lines.append(f"- missing compared with a (unexpected): {', '.join(removed)}")
    lines.append(f"- torch, numpy, wrapt or TAO modules at start in b or c: {', '.join(bad) or 'none'}")
    return lines, bad


def _goal_lines(ratios, cpu_ratios, bad):
    """The goals table, and whether every goal is met (on wall time)."""
    lines = ["| goal | measured (wall) | CPU time | result (on wall) |", "|---|---:|---:|---|"]
    verdicts = []
    for name in GOALS:
        ok = ratios[name] <= GOALS[name]
        verdicts.append(ok)
        lines.append(f"| {name}/a ≤ {GOALS[name]:.2f} | {ratios[name]:.3f} | {cpu_ratios[name]:.3f} | "
                     f"{'PASS' if ok else 'FAIL'} |")
    verdicts.append(not bad)
    lines.append(f"| no torch, numpy or TAO module at start | {', '.join(bad) or 'none'} | | "
                 f"{'PASS' if not bad else 'FAIL'} |")
    return lines, all(verdicts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="interleaved rounds (default 200)")
    parser.add_argument("--quick", action="store_true", help="20 rounds, 2 warm-up rounds")
    parser.add_argument("--warmup", type=int, default=10, help="warm-up rounds, not measured (default 10)")
    parser.add_argument("--python", default=sys.executable, help="base interpreter (default: this one)")
    parser.add_argument("--workdir", type=Path, help="keep and reuse the wheel and venvs here (default: a temp dir)")
    parser.add_argument("--out", type=Path, help="also write the markdown report to this file")
    parser.add_argument("--seed", type=int, default=1, help="shuffle and bootstrap seed")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.warmup = 20, 2

    base = base_interpreter(args.python)
    tmp = None
    if args.workdir:
        workdir = args.workdir.resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="startup-bench-")
        workdir = Path(tmp.name)
    try:
        info = build(base, workdir)
        var = variants(info)
        check_silent(var)
        mods = {"a": modules(*var["a"]), "b": modules(*var["b"]), "c": modules(*var["c"])}
        log(f"measuring {args.rounds} rounds of {', '.join(var)} ...")
        load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
        start = time.perf_counter()
        wall, cpu = measure(var, args.rounds, args.warmup, args.seed)
        elapsed = time.perf_counter() - start
        load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
        text, ok = report(args, base, info, wall, cpu, mods, load_before, load_after, elapsed)
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(text, end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        log(f"written to {args.out}")
    return 1 if (args.strict and not ok) else 0


if __name__ == "__main__":
    sys.exit(main())
