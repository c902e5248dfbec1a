#!/usr/bin/env python3
"""Classification-loss cost at TAO Sparse4D's real shapes: stock vs the patched modes.

One *step* is what ``SetCriterion`` hands ``FocalLoss`` in one training step:
for each decoder layer, the (B x 900, 10) matched-query rows (1-5 % matched, the
rest labelled ``C``) and the denoising rows (``groups`` x positive + negative
copies of each ground-truth box: class labels and ``-3``; in the temporal layers
part of the positives are lost tracks, ``-1``), each call with TAO's
``avg_factor``. The losses are summed and back-propagated, as in training.

Arms, interleaved in a fresh random order every repetition:

* ``stock``: TAO's own ``FocalLoss.forward``, unwrapped (the plugin not involved);
* ``original``, ``corrected``, ``unmatched_only``: TAO's ``FocalLoss`` with the
  plugin installed and ``background_supervision`` set to that mode.

Reports the median and inter-quartile range of the forward + backward time per
arm and the ratio patched / stock (of medians, and the median of the per-repetition
ratios, which cancels slow drifts in machine load), for the whole step and for one
layer's matched rows and DN rows alone. Run from the repository root, with TAO
importable (e.g. ``PYTHONPATH=/path/to/tao``):

    python bench/loss.py --quick
    python bench/loss.py --out results/loss.md
    python bench/loss.py --clock cpu          # on a machine shared with other jobs
    python bench/loss.py --memory             # bytes kept for backward and peak, batch 1 and 4

On the CPU it defaults to one intra-op thread (``--threads``) and a steady heap
(``--heap``); both are printed with the table. The stock loss keeps only the ~3 %
matched rows, so it allocates almost nothing; the dense arms allocate (N, C)
buffers, which a process this small would otherwise keep returning to the OS.
"""
import argparse
import gc
import platform
import random
import statistics
import sys
import time
import types
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # measure this checkout, not an installed copy

import tao_sparse4d_fix  # noqa: E402
from tao_sparse4d_fix.runtime import criterion_state, modes, versions  # noqa: E402

CRITERION = "nvidia_tao_pytorch.cv.sparse4d.model.criterion"
ARMS = ("stock", modes.ORIGINAL, modes.CORRECTED, modes.UNMATCHED_ONLY)
STEP, MATCHED, DN = "step", "matched rows, 1 layer", "DN rows, 1 temporal layer"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few repetitions (a smoke run, noisy)")
    parser.add_argument("--repeats", type=int, help="timed repetitions per arm (default 200, --quick 20)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed repetitions per arm first")
    parser.add_argument("--out", type=Path, help="also write the markdown report to this file")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads on the CPU (default 1: on a shared or busy machine every "
                             "multi-threaded op waits for a descheduled worker; 0 keeps torch's default)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall: elapsed time; cpu: this thread's CPU time, which leaves out time the OS "
                             "gave other processes (CPU device, --threads 1 only)")
    parser.add_argument("--heap", choices=("steady", "default"), default="steady",
                        help="steady (default, glibc only): freed memory stays in the heap, as in a training "
                             "process whose activations keep the heap large (and as with CUDA's caching "
                             "allocator); default: glibc's own heuristics, which in this small process hand the "
                             "loss's buffers back to the OS after a step and page-fault them in again on the "
                             "next one, by chance (see the faults column)")
    parser.add_argument("--memory", action="store_true",
                        help="instead of timing: the bytes each arm keeps for backward (saved_tensors_hooks) and "
                             "its peak of live tensor bytes over forward + backward, at batch 1 and 4")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=6)
    parser.add_argument("--queries", type=int, default=900)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--layers", type=int, default=6, help="decoder layers")
    parser.add_argument("--single-frame-layers", type=int, default=1,
                        help="layers before the temporal ones (TAO's num_single_frame_decoder)")
    parser.add_argument("--dn-groups", type=int, default=5)
    parser.add_argument("--temp-dn-groups", type=int, default=3)
    parser.add_argument("--max-gt", type=int, default=32, help="ground-truth boxes per sample, at most")
    parser.add_argument("--min-gt", type=int, default=9, help="ground-truth boxes per sample, at least")
    parser.add_argument("--lost-track-rate", type=float, default=0.1,
                        help="share of temporal DN positives whose track is lost (label -1)")
    return parser.parse_args(argv)


def make_step(args, generator, device):
    """The (pred, target, avg_factor) of every FocalLoss call in one training step."""
    batch, queries, classes = args.batch, args.queries, args.classes
    num_gt = torch.randint(args.min_gt, args.max_gt + 1, (batch,), generator=generator)
    gt_labels = [torch.randint(0, classes, (int(n),), generator=generator) for n in num_gt]

    def logits(rows):
        # Around the focal-loss prior (p = 0.01): mostly confident background.
        pred = torch.randn(rows, classes, generator=generator) * 2 - 4.6
        return pred.to(device).requires_grad_()

    calls = []
    for layer in range(args.layers):
        # Matched rows: one query per ground-truth box (Hungarian), the rest background (C).
        target = torch.full((batch, queries), classes, dtype=torch.long)
        for b in range(batch):
            chosen = torch.randperm(queries, generator=generator)[: len(gt_labels[b])]
            target[b, chosen] = gt_labels[b]
        target = target.flatten()
        num_pos = max(int((target < classes).sum()), 1)
        calls.append(("matched", layer, logits(target.numel()), target.to(device),
                      torch.tensor(float(num_pos), device=device)))

        # Denoising rows: per group, a positive (the box's class) and a negative (-3) per box.
        temporal = layer >= args.single_frame_layers
        rows = []
        for b in range(batch):
            for group in range(args.dn_groups):
                positives = gt_labels[b].clone()
                if temporal and group < args.temp_dn_groups:
                    lost = torch.rand(len(positives), generator=generator) < args.lost_track_rate
                    positives[lost] = -1
                rows += [positives, torch.full_like(positives, -3)]
        target = torch.cat(rows)
        calls.append(("dn", layer, logits(target.numel()), target.to(device),
                      torch.tensor(float(target.numel()), device=device)))
    return calls


def scenario_calls(calls, args):
    temporal_layer = min(args.single_frame_layers, args.layers - 1)
    return {
        STEP: calls,
        MATCHED: [c for c in calls if c[0] == "matched" and c[1] == 0],
        DN: [c for c in calls if c[0] == "dn" and c[1] == temporal_layer],
    }


def build_arms(criterion):
    """One FocalLoss per arm; ``stock`` runs TAO's forward with no plugin code in the call."""
    tao_sparse4d_fix.uninstall()  # in case the .pth hook patched TAO at import
    stock_forward = criterion.FocalLoss.__dict__["forward"]
    if hasattr(stock_forward, "__wrapped__"):
        raise SystemExit("FocalLoss.forward is still wrapped after uninstall()")
    tao_sparse4d_fix.install()
    if not hasattr(criterion.FocalLoss.__dict__["forward"], "__wrapped__"):
        raise SystemExit("tao_sparse4d_fix.install() did not patch FocalLoss.forward")

    arms = {}
    for arm in ARMS:
        loss = criterion.FocalLoss(gamma=2.0, alpha=0.25, loss_weight=2.0)  # TAO's defaults
        if arm == "stock":
            loss.forward = types.MethodType(stock_forward, loss)
        else:  # the mode SetCriterion would hand it
            criterion_state.attach(criterion_state.CriterionState(arm), loss)
        arms[arm] = loss
    return arms


def run(loss, calls):
    """Forward every call, sum, backward: what one training step does with the loss."""
    total = 0
    for _, _, pred, target, avg_factor in calls:
        total = total + loss(pred, target, avg_factor=avg_factor)
    total.backward()
    return total


def steady_heap():
    """Stop glibc malloc from trimming the heap or mmap-ing large blocks (both hand memory back)."""
    import ctypes

    m_trim_threshold, m_mmap_threshold = -1, -3
    libc = ctypes.CDLL(None)
    if not (libc.mallopt(m_trim_threshold, 1 << 30) and libc.mallopt(m_mmap_threshold, 32 << 20)):
        raise SystemExit("--heap steady: mallopt refused (not glibc?); use --heap default")


def minor_faults():
    """Page faults so far (each one is a page of fresh memory the allocator had to map)."""
    try:
        import resource
    except ImportError:  # not on Unix
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_arms(arms, calls, repeats, warmup, seed, device, clock):
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    preds = [call[2] for call in calls]
    times = {arm: [] for arm in arms}
    faults = {arm: [] for arm in arms}
    order = random.Random(seed)
    for repetition in range(warmup + repeats):
        names = list(arms)
        order.shuffle(names)
        for arm in names:
            for pred in preds:
                pred.grad = None
            sync()
            faults_before = minor_faults()
            start = clock()
            run(arms[arm], calls)
            sync()
            elapsed = clock() - start
            if repetition >= warmup:
                times[arm].append(elapsed)
                faults[arm].append(minor_faults() - faults_before)
        if repetition % 20 == 0:
            gc.collect()
    return times, faults


def summarise(times, faults):
    stock = times["stock"]
    rows = {}
    for arm, values in times.items():
        q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
        paired = statistics.median(v / s for v, s in zip(values, stock))
        rows[arm] = (median, q3 - q1, median / statistics.median(stock), paired, statistics.median(faults[arm]))
    return rows


class LiveBytes:
    """Peak of the bytes held by tensors that ops create while it is active (a TorchDispatchMode).

    Every op output whose storage is new adds its bytes; they are subtracted when
    that tensor is freed. The inputs that exist before (the logits, the labels)
    are not counted: the figure is what the loss adds on top of them. Device-neutral
    (no CUDA allocator statistics needed), so it runs on the CPU too.
    """

    def __init__(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        tracker = self

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                for item in torch.utils._pytree.tree_leaves(out):
                    if isinstance(item, torch.Tensor):
                        tracker.add(item)
                return out

        self.mode, self.live, self.peak, self.storages = Mode(), 0, 0, set()

    def add(self, tensor):
        import weakref

        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        if not key or key in self.storages:
            return
        self.storages.add(key)
        size = storage.nbytes()
        self.live += size
        self.peak = max(self.peak, self.live)
        weakref.finalize(tensor, self.free, key, size)

    def free(self, key, size):
        self.storages.discard(key)
        self.live -= size


def memory(arms, calls):
    """Per arm: bytes saved for backward (unique storages), of which the logits themselves, and the live-bytes peak."""
    logits = {call[2].untyped_storage().data_ptr() for call in calls}
    rows = {}
    for arm, loss in arms.items():
        saved = {}

        def pack(tensor):
            storage = tensor.untyped_storage()
            saved[storage.data_ptr()] = storage.nbytes()
            return tensor

        for call in calls:
            call[2].grad = None
        tracker = LiveBytes()
        with tracker.mode:
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
                total = sum(loss(pred, target, avg_factor=avg_factor) for _, _, pred, target, avg_factor in calls)
            total.backward()
        kept = sum(saved.values())
        rows[arm] = (kept, sum(n for ptr, n in saved.items() if ptr in logits), tracker.peak)
        del total
    return rows


def memory_report(args, device, tables, logit_bytes):
    lines = [
        "## Classification loss: memory, stock TAO vs tao-sparse4d-fix",
        "",
        f"- TAO nvidia-tao-pytorch {versions.installed('nvidia-tao-pytorch')}, torch {torch.__version__}, device {device}",
        f"- one training step's FocalLoss calls at TAO's shapes ({args.layers} layers x {args.queries} queries x "
        f"{args.classes} classes, plus the denoising rows), float32 logits",
        "- kept for backward: the unique storages packed by `torch.autograd.graph.saved_tensors_hooks` during the "
        "forward; 'of which logits': storages that are the logits themselves (alive anyway, as the model's output)",
        "- peak: the most bytes held at once by tensors created by the loss's operators, forward and backward "
        "(a TorchDispatchMode count, so it needs no CUDA allocator; the logits and labels, which exist before, are "
        "not counted; the gradients backward writes for the logits are)",
        "",
        "| batch | logits (MB) | arm | kept for backward (MB) | of which logits (MB) | kept / stock | kept / logits | peak (MB) | peak / stock |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for batch, rows in tables.items():
        stock_kept, _, stock_peak = rows["stock"]
        for arm, (kept, of_logits, peak) in rows.items():
            lines.append(f"| {batch} | {logit_bytes[batch] / 1e6:.2f} | {arm} | {kept / 1e6:.2f} | {of_logits / 1e6:.2f} | "
                         f"{kept / stock_kept:.2f} | {kept / logit_bytes[batch]:.2f} | {peak / 1e6:.2f} | "
                         f"{peak / stock_peak:.2f} |")
    return "\n".join(lines) + "\n"


def report(args, device, results, rows_per_scenario, repeats, clock_name):
    lines = [
        "## Classification loss: stock TAO vs tao-sparse4d-fix",
        "",
        f"- TAO nvidia-tao-pytorch {versions.installed('nvidia-tao-pytorch')}, torch {torch.__version__}, "
        f"Python {platform.python_version()}",
        f"- device: {device}"
        + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else
           f" ({platform.processor() or platform.machine()}, {torch.get_num_threads()} intra-op threads)"),
        f"- step: {args.layers} decoder layers x (matched rows {args.batch} x {args.queries}, "
        f"{args.classes} classes; DN rows {args.dn_groups} groups x pos/neg x {args.min_gt}-{args.max_gt} "
        f"boxes per sample, -1 lost tracks in {args.temp_dn_groups} temporal groups); forward + backward",
        f"- {repeats} timed repetitions per arm, arms interleaved in random order, {clock_name} clock, "
        + ("steady heap (glibc mallopt: no trim, no mmap)" if args.heap == "steady" else "glibc's default heap"),
        "- ratio = median / stock median; paired = median over repetitions of arm / stock; "
        "faults = median minor page faults per repetition",
        "",
        "| scenario | rows | arm | median (ms) | IQR (ms) | ratio vs stock | paired ratio | faults |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for scenario, rows in results.items():
        for arm, (median, iqr, ratio, paired, faults) in rows.items():
            lines.append(f"| {scenario} | {rows_per_scenario[scenario]} | {arm} | {median * 1e3:.3f} | "
                         f"{iqr * 1e3:.3f} | {ratio:.2f} | {paired:.2f} | {faults:g} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    repeats = args.repeats or (20 if args.quick else 200)
    device = torch.device(args.device)
    if args.threads and device.type == "cpu":
        torch.set_num_threads(args.threads)
    if args.heap == "steady":
        steady_heap()
    if args.clock == "cpu":
        if device.type != "cpu" or torch.get_num_threads() != 1:
            raise SystemExit("--clock cpu measures one thread's CPU time: use it with --device cpu --threads 1")
        clock, clock_name = time.thread_time, "thread CPU-time"
    else:
        clock, clock_name = time.perf_counter, "wall"
    import importlib

    criterion = importlib.import_module(CRITERION)
    arms = build_arms(criterion)
    if args.memory:
        tables, logit_bytes = {}, {}
        for batch in (1, 4):
            step = make_step(argparse.Namespace(**dict(vars(args), batch=batch)), torch.Generator().manual_seed(args.seed),
                             device)
            tables[batch] = memory(arms, step)
            logit_bytes[batch] = sum(call[2].numel() * call[2].element_size() for call in step)
        text = memory_report(args, device, tables, logit_bytes)
        print(text)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text)
        return 0
    generator = torch.Generator().manual_seed(args.seed)
    calls = make_step(args, generator, device)

    results, rows_per_scenario = {}, {}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for scenario, subset in scenario_calls(calls, args).items():
            rows_per_scenario[scenario] = sum(call[3].numel() for call in subset)
            times, faults = time_arms(arms, subset, repeats, args.warmup, args.seed, device, clock)
            results[scenario] = summarise(times, faults)
    finally:
        if gc_was_enabled:
            gc.enable()
    text = report(args, device, results, rows_per_scenario, repeats, clock_name)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
