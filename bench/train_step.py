#!/usr/bin/env python3
"""Whole training step: TAO's own tiny Sparse4D training with and without the fix.

Each arm is TAO's unchanged ``sparse4d train -e spec.yaml`` on the CPU harness:
`stock` has TAO_SPARSE4D_FIX unset, `fixed` has it set to 1 (mode corrected,
diagnostics on). Same seed, same data, same steps; the arms alternate round by
round so machine noise hits both alike. Step time is the gap between the wall
times TensorBoard recorded for consecutive steps' ``loss`` scalar, skipping the
first ``--warmup`` steps of every run.

    python3 harness/testenv.py run --tao 6.25.11 -- python -m bench.train_step [--rounds 3] [--steps 12] [--quick] [--out FILE]
"""
import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

from harness import testenv, tiny

HARNESS = testenv.HARNESS

TAO = "6.25.11"
ARMS = {"stock": None, "fixed": "1"}


def step_times(results_dir, warmup):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    walls = []
    for path in sorted(Path(results_dir).rglob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(path), size_guidance={"scalars": 0})
        accumulator.Reload()
        walls += [(event.step, event.wall_time) for event in accumulator.Scalars("loss")]
    walls = [wall for _, wall in sorted(walls)]
    return [later - earlier for earlier, later in zip(walls, walls[1:])][warmup:]


def one_run(arm, data, work, steps, index):
    results = work / f"{arm}-{index}"
    spec = tiny.write_spec(work / f"{arm}-{index}.yaml", data, results, steps=steps)
    extra = {} if ARMS[arm] is None else {"TAO_SPARSE4D_FIX": ARMS[arm]}
    completed = tiny.run_train(TAO, spec, extra_env=extra)
    if completed.returncode != 0:
        raise SystemExit(f"{arm} run failed:\n{completed.stdout[-3000:]}")
    return results


def quartiles(values):
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1 round of 5 steps")
    parser.add_argument("--out", help="also write the markdown table here")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.steps, args.warmup = 1, 5, 1

    testenv.ensure([TAO])
    work = Path(tempfile.mkdtemp(prefix="train-step-bench-"))
    data = work / "data"
    testenv_python = testenv.venv_dir() / "bin" / "python"
    import subprocess

    subprocess.run([str(testenv_python), str(HARNESS / "synthetic_data.py"), "--out", str(data), "--seed", "0",
                    "--scenes", "2", "--frames", str(args.steps)], env=testenv.tao_env(TAO), check=True,
                   stdout=subprocess.DEVNULL)
    started = time.time()
    times = {arm: [] for arm in ARMS}
    per_round = {arm: [] for arm in ARMS}
    for round_index in range(args.rounds):
        order = list(ARMS) if round_index % 2 == 0 else list(reversed(ARMS))
        for arm in order:
            gaps = step_times(one_run(arm, data, work, args.steps, round_index), args.warmup)
            times[arm] += gaps
            per_round[arm].append(statistics.median(gaps))
            print(f"round {round_index} {arm}: median step {statistics.median(gaps):.3f} s over {len(gaps)} steps",
                  flush=True)

    stock_median = statistics.median(times["stock"])
    paired = [f / s for f, s in zip(per_round["fixed"], per_round["stock"])]
    lines = [
        f"Whole training step, TAO {TAO} `sparse4d train` on the CPU harness, {args.rounds} interleaved rounds "
        f"x {args.steps} steps (first {args.warmup} of each run skipped); {platform.processor() or platform.machine()}, "
        f"{__import__('os').cpu_count()} cores, Python {platform.python_version()}; {time.time() - started:.0f} s in all.",
        "",
        "| arm | median step (s) | IQR (s) | steps | ratio to stock |",
        "|---|---:|---:|---:|---:|",
    ]
    for arm, values in times.items():
        low, high = quartiles(values) if len(values) > 1 else (values[0], values[0])
        lines.append(f"| {arm} | {statistics.median(values):.3f} | {low:.3f}-{high:.3f} | {len(values)} | "
                     f"{statistics.median(values) / stock_median:.3f} |")
    lines += ["", f"Per-round ratio fixed/stock (run-to-run spread): {', '.join(f'{r:.3f}' for r in paired)}"]
    report = "\n".join(lines)
    print("\n" + report)
    if args.out:
        Path(args.out).write_text(report + "\n")


if __name__ == "__main__":
    main()
