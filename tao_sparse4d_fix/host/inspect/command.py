"""``tao-sparse4d-fix inspect RESULTS.json [MORE.json ...]``: the arguments and the run."""
import argparse
import sys

from tao_sparse4d_fix.host.inspect import ground_truth, metrics, plot, render, results_file, spec, verdict
from tao_sparse4d_fix.host.inspect.problems import BadInput
from tao_sparse4d_fix.host.inspect.thresholds import DEFAULT_NUM_OUTPUT

PROG = "tao-sparse4d-fix inspect"

DESCRIPTION = f"""\
Is my model affected? Reads the results_nusc.json that TAO's `sparse4d inference`
(or `evaluate`) writes under inference.jsonfile_prefix (TAO 6.25.x: in its img_bbox/
folder), and reports, per file: frames, detections per frame (mean, p5/p50/p95,
frames at the decoder's cap model.head.num_output), the score distribution (median,
within-frame spread, share near the frame's median), with tracking ids the new IDs
per frame, and with --gt false positives, precision and recall at 2 m. Several files
are compared side by side (before/after). Then a verdict per file, with the signals
that decided it: affected, not_affected or unclear.

The cap: -e SPEC's model.head.num_output, else --num-output, else TAO's schema
default ({DEFAULT_NUM_OUTPUT}); the table says which.

Exit status: 0 no file affected, 1 a file is affected, 2 bad input (one line on
stderr per problem, no table), 3 an internal error (one line; never a verdict).

--gt reads the dataset info .pkl your TAO spec's dataset.test_dataset.ann_file
names, without numpy and without running any of its code: only builtin
containers and numpy arrays are read; a pickle naming anything else is refused
(exit 2). Limits: regular files only (no FIFO or device), a results file's
single frame at most 64 MB, a pickle at most 4096 MB, 50 million items and 100
levels deep as it expands (docs/your-files.md)."""


def add_arguments(parser):
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("results", nargs="+", metavar="RESULTS.json", help="TAO's results_nusc.json files")
    parser.add_argument("-e", "--experiment-spec", dest="spec", metavar="SPEC.yaml",
                        help="the spec the inference ran with: model.head.num_output is read from it")
    parser.add_argument("--num-output", metavar="N", help="the decoder's cap model.head.num_output (without -e)")
    parser.add_argument("--gt", metavar="INFO.pkl",
                        help="the dataset info .pkl (or a folder of them) that the inference read: adds false "
                             "positives, precision and recall at 2 m (read without running any code of it)")
    parser.add_argument("--json", action="store_true", help="print a JSON list, one object per file, instead of the table")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="also draw score histograms and detections per frame (needs matplotlib; "
                             "without it a note on stderr, the report as usual)")


def run(args):
    errors = []
    num_output = source = gt = None
    try:
        num_output, source = spec.resolve(args.spec, args.num_output)
    except BadInput as error:
        errors.append(error)
    if args.gt is not None:
        try:
            gt = ground_truth.read(args.gt)
        except BadInput as error:
            errors.append(error)
    files = []
    for path in args.results:
        try:
            parsed = results_file.read(path, need_translation=args.gt is not None)
            if gt is not None:
                _check_tokens(parsed, gt)
            files.append(parsed)
        except BadInput as error:
            errors.append(error)
    if errors:
        for error in errors:
            print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    measured = [metrics.measure(f, num_output, source, gt) for f in files]
    common_note = metrics.compare_at_common_recall(measured) if gt is not None else None
    rows = [(m, *verdict.decide(m)) for m in measured]
    if args.plot:
        try:
            plot.draw(args.plot, measured, render._names([m.file for m in measured]))
        except plot.NoMatplotlib:
            print(f"{PROG}: note: --plot needs matplotlib, which is not importable here "
                  f"(pip install matplotlib); {args.plot} not written", file=sys.stderr)
        except (OSError, ValueError) as error:
            print(f"{PROG}: error: {args.plot}: cannot write the plot: {getattr(error, 'strerror', None) or error}",
                  file=sys.stderr)
            return 2
    print(render.as_json(rows, gt is not None) if args.json else render.table(rows, gt is not None, common_note))
    return 1 if any(row[1] == verdict.AFFECTED for row in rows) else 0


def _check_tokens(parsed, gt):
    tokens = [token for token, _ in parsed.frames]
    unknown = [token for token in tokens if token not in gt.frames]
    if unknown:
        raise BadInput(parsed.path, f"{len(unknown)} of {len(tokens)} frames are not in the GT {gt.path} "
                                    f"(first: {unknown[0]!r}): not the pkl this file was inferred from?")
    present = set(tokens)
    missing = [token for token in gt.frames if token not in present]
    if missing:
        raise BadInput(parsed.path, f"{len(missing)} of {len(gt.frames)} GT frames of {gt.path} have no entry "
                                    f"(first: {missing[0]!r}); TAO writes one for every frame it read: "
                                    "not the pkl this file was inferred from?")
