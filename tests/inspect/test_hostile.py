"""A corpus of hostile files: the only outcomes are a verdict (exit 0/1) on valid input, one line and exit 2 otherwise.

Each case runs ``tao-sparse4d-fix inspect`` in its own process (standard
library only: ``-I -S``) under a timeout, so a hang fails the test instead of
stalling it. Never a traceback, never exit 1 for a crash, never a file's code
run (the pickles that would run code try to create a marker file).
"""
import json
import os
import pickle
import random
import subprocess
import sys
import time

from inspect_helpers import PREFIX, REPO, box, info, write_gt, write_results

CODE = ("import sys; sys.path.insert(0, sys.argv[1]); from tao_sparse4d_fix.commands import cli; "
        "sys.exit(cli.main(['inspect', *sys.argv[2:]]))")


def inspect(*argv, timeout=60):
    return subprocess.run([sys.executable, "-I", "-S", "-c", CODE, str(REPO), *map(str, argv)],
                          capture_output=True, text=True, timeout=timeout)


def verdict(done):
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, (done.returncode, done.stderr)
    assert "verdict" in done.stdout, done.stdout


def refused(done, names):
    """Exit 2, no table, exactly one line on stderr, naming ``names`` (the file or the option)."""
    assert done.returncode == 2, (done.returncode, done.stdout[-300:], done.stderr[-600:])
    assert done.stdout == "" and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(PREFIX + str(names)), lines
    return lines[0][len(PREFIX) + len(str(names)) + 2:]


def good(tmp_path, name="good.json"):
    return write_results(tmp_path / name, {"t0": [box(0.5, 1, 1, 1)], "t1": [box(0.7, 2, 2, 2)]})


def test_devices_fifos_and_loops_are_refused_without_reading_or_blocking(tmp_path):
    results = good(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    start = time.monotonic()
    for bad in ("/dev/zero", fifo):
        assert refused(inspect(bad), bad).startswith("not a regular file (a FIFO, socket or device)")
        assert refused(inspect(results, "-e", bad), bad).startswith("not a regular file")
        assert refused(inspect(results, "--gt", bad), bad).startswith("not a regular file")
    assert refused(inspect(loop), loop) == "cannot read: Too many levels of symbolic links"
    assert time.monotonic() - start < 30  # nothing read /dev/zero for long, nothing waited on the FIFO


def test_numbers_json_reads_as_too_large_are_refused_as_not_finite(tmp_path):
    for text, what in (("1" * 400, "inf"), ("-" + "9" * 5000, "-inf"), ("1e400", "inf"), ("0." + "0" * 5000 + "1e9999", "inf")):
        path = tmp_path / "r.json"
        path.write_text('{"results": {"t0": [{"detection_score": %s}]}}' % text)
        assert refused(inspect(path), path) == f"results['t0'][0] \"detection_score\" is not finite ({what})", text
    path = tmp_path / "meta.json"  # a 5000-digit integer where nothing reads it: still JSON, still a verdict
    path.write_text('{"meta": %s, "results": {"t0": [{"detection_score": 0.5}]}}' % ("7" * 5000))
    verdict(inspect(path))


def test_deep_nesting_is_one_line_with_the_right_reason(tmp_path):
    deep = "[" * 200_000 + "]" * 200_000
    for name, text, reason in (
            ("top.json", deep, 'no "results" mapping'),
            ("meta.json", '{"meta": %s, "results": {}}' % deep, "not JSON (line 1 column 10: nested deeper"),
            ("box.json", '{"results": {"t0": %s}}' % deep, "not JSON (line 1 column 20: nested deeper")):
        path = tmp_path / name
        path.write_text(text)
        assert refused(inspect(path), path).startswith(reason), name


def test_encodings(tmp_path):
    text = json.dumps({"results": {"t0": [box(0.5)]}})
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    verdict(inspect(bom))  # as json.load reads it
    for name, raw in (("utf16.json", text.encode("utf-16")), ("nul.json", b"\0" * 100), ("latin1.json", b'{"\xe9": 1}'),
                      ("empty.json", b""), ("space.json", b"  \n ")):
        path = tmp_path / name
        path.write_bytes(raw)
        assert refused(inspect(path), path).startswith("not JSON"), name


def test_duplicates_are_reported_not_collapsed(tmp_path):
    path = tmp_path / "dup.json"
    path.write_text('{"results": {"t0": [%s], "t1": [], "t0": [%s]}}' % (json.dumps(box(0.5)), json.dumps(box(0.6))))
    assert refused(inspect(path), path) == ("results has the sample token 't0' twice (frames 1 and 3): not a file TAO "
                                            "wrote; its boxes would be lost")
    path.write_text('{"results": {"t0": []}, "results": {"t1": []}}')
    assert refused(inspect(path), path) == 'the key "results" appears twice: not a file TAO wrote'


def test_every_truncation_and_random_damage_is_a_verdict_or_one_line(tmp_path):
    frames = {f"scene_000_{k:06d}": [box(0.3 + 0.1 * (q % 5), q, k, tid=q, token=f"t{k}") for q in range(3)]
              for k in range(4)}
    raw = json.dumps({"meta": {"use_camera": True}, "results": frames}, indent=1).encode()
    path = tmp_path / "r.json"
    cuts = sorted(set(range(0, len(raw), max(1, len(raw) // 60))) | {len(raw) - 1})
    for cut in cuts:
        path.write_bytes(raw[:cut])
        refused(inspect(path), path)
    rng = random.Random(7)
    outcomes = {0: 0, 1: 0, 2: 0}
    for _ in range(60):
        damaged = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.choice(b'{}[]",:0123456789.eE-+ \ntfnx\xff\x00')
        path.write_bytes(bytes(damaged))
        done = inspect(path)
        if done.returncode == 2:
            refused(done, path)
        else:
            verdict(done)
        outcomes[done.returncode] += 1
    assert sum(outcomes.values()) == 60 and outcomes[2] > 0
    print(f"truncations: {len(cuts)} refused; random damage: {outcomes}")


def _global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def test_a_pickle_never_runs_code(tmp_path):
    results = good(tmp_path)
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    cases = {
        "reduce.pkl": pickle.dumps({"infos": [Payload()]}, protocol=2),
        "reduce4.pkl": pickle.dumps({"infos": [Payload()]}, protocol=4),
        "eval.pkl": _global("builtins", "eval") + b"(S'open(%r, \"w\")'\ntR." % str(marker).encode(),
        "inst.pkl": b"(S'touch %s'\nios\nsystem\n." % str(marker).encode(),
        "popen.pkl": _global("subprocess", "Popen") + b"((S'touch'\nS'%s'\nltR." % str(marker).encode(),
        "copyreg.pkl": _global("copyreg", "_reconstructor") + b"(" + _global("os", "_wrap_close") + b"NNtR.",
        "getattr.pkl": _global("builtins", "getattr") + b"(" + _global("os", "path") + b"S'join'\ntR.",
    }
    for name, raw in cases.items():
        path = tmp_path / name
        path.write_bytes(raw)
        why = refused(inspect(results, "--gt", path), path)
        assert why.startswith("refused: the pickle calls "), (name, why)
        assert "never runs a file's code" in why
    assert not marker.exists()


def test_a_pickle_cannot_expand_without_bound(tmp_path):
    results = good(tmp_path)
    laughs = ["lol"]
    for _ in range(40):
        laughs = [laughs, laughs]  # 2**40 items as a tree, a few hundred bytes as a pickle
    deep = b"\x80\x02" + b"]" * 3000 + b"a" * 2999 + b"."  # 3000 nested lists
    size_bomb = _global("__builtin__", "bytes") + b"(I10000000000\ntR."  # bytes(10**10) would be 10 GB
    shape_bomb = (b"\x80\x03" + _global("numpy._core.numeric", "_frombuffer") + b"(C\x08" + b"\0" * 8
                  + _global("numpy", "dtype") + b"(X\x02\x00\x00\x00f8\x89\x88tR"
                  + b"(\x8a\x06" + (10 ** 12).to_bytes(6, "little") + b"tX\x01\x00\x00\x00CtR.")
    cases = {"laughs.pkl": (pickle.dumps({"infos": laughs}, protocol=4), "refused: expands to more than 50000000 items"),
             "deep.pkl": (deep, "refused: nested deeper than 100 levels"),
             "bytes.pkl": (size_bomb, "refused: bytes(<a size>) is not how pickle writes bytes"),
             "shape.pkl": (shape_bomb, "refused: a numpy array of shape (1000000000000,): more than")}
    for name, (raw, reason) in cases.items():
        path = tmp_path / name
        path.write_bytes(raw)
        assert len(raw) < 10_000, name
        start = time.monotonic()
        assert refused(inspect(results, "--gt", path, timeout=120), path).startswith(reason), name
        assert time.monotonic() - start < 60, name


def test_valid_pickles_of_every_protocol_still_read(tmp_path):
    gt_infos = [info("t0", [(1, 1)], scene="s"), info("t1", [(2, 2)], scene="s")]
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        gt = tmp_path / f"gt{protocol}.pkl"
        with open(gt, "wb") as handle:
            pickle.dump({"infos": gt_infos, "metadata": {"version": "v", "set": {1, 2}, "b": b"\x00\xff"}}, handle,
                        protocol=protocol)
        verdict(inspect(good(tmp_path), "--gt", gt))
    write_gt(tmp_path / "plain.pkl", gt_infos)
    verdict(inspect(good(tmp_path), "--gt", tmp_path / "plain.pkl"))


def test_an_internal_error_is_status_3_in_one_line_never_a_verdict(tmp_path):
    from inspect_helpers import run
    from tao_sparse4d_fix.host.inspect import metrics
    real = metrics.measure
    metrics.measure = lambda *args: 1 / 0  # a bug in the measuring code
    try:
        status, out, err = run(good(tmp_path))
    finally:
        metrics.measure = real
    assert (status, out) == (3, "")
    assert err == "tao-sparse4d-fix inspect: internal error (ZeroDivisionError: division by zero); please report it\n"
