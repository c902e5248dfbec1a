"""Bad input: one line on stderr naming the file and the problem, exit status 2, no table, no traceback."""
import pickle

from inspect_helpers import PREFIX, bad, box, info, run, write_gt, write_results, write_text


def good(tmp_path, name="good.json"):
    return write_results(tmp_path / name, {"t0": [box(0.5, 1, 1, 1)], "t1": []})


def test_missing_file(tmp_path):
    path = tmp_path / "nope.json"
    assert bad(path) == f"{path}: no such file"


def test_a_folder_is_not_a_file(tmp_path):
    assert bad(tmp_path) == f"{tmp_path}: cannot read: Is a directory"


def test_not_json(tmp_path):
    path = write_text(tmp_path / "r.json", "{not json")
    assert bad(path) == f"{path}: not JSON (line 1 column 2: Expecting property name enclosed in double quotes)"
    path = tmp_path / "bin.json"
    path.write_bytes(b'{"results": {"t": "\xff"}}')
    assert bad(path) == f"{path}: not JSON (not UTF-8 text)"


def test_wrong_schema(tmp_path):
    no_results = 'no "results" mapping: not a results_nusc.json of TAO\'s sparse4d inference'
    for text in ('{"meta": {}}', "[1, 2]", '{"results": []}', '"results"'):
        path = write_text(tmp_path / "r.json", text)
        assert bad(path) == f"{path}: {no_results}", text
    path = write_text(tmp_path / "r.json", '{"results": {"t0": {"detection_score": 0.5}}}')
    assert bad(path) == f"{path}: results['t0'] is not a list of boxes (got dict)"
    path = write_text(tmp_path / "r.json", '{"results": {"t0": [], "t1": [{"detection_score": 0.5}, 3]}}')
    assert bad(path) == f"{path}: results['t1'][1] is not an object (got int)"


def test_empty_results(tmp_path):
    path = write_text(tmp_path / "r.json", '{"meta": {}, "results": {}}')
    assert bad(path) == f'{path}: "results" is empty: no frames'


def test_scores(tmp_path):
    cases = {'{"translation": [0, 0, 0]}': 'has no "detection_score"',
             '{"detection_score": NaN}': '"detection_score" is not finite (nan)',
             '{"detection_score": Infinity}': '"detection_score" is not finite (inf)',
             '{"detection_score": -Infinity}': '"detection_score" is not finite (-inf)',
             '{"detection_score": 1e999}': '"detection_score" is not finite (inf)',
             '{"detection_score": "0.5"}': "\"detection_score\" is not a number (got '0.5')",
             '{"detection_score": null}': '"detection_score" is not a number (got None)',
             '{"detection_score": true}': '"detection_score" is not a number (got True)',
             '{"detection_score": 1.5}': '"detection_score" 1.5 is outside [0, 1]'}
    for text, what in cases.items():
        path = write_text(tmp_path / "r.json", '{"results": {"t0": [{"detection_score": 0.5}, %s]}}' % text)
        assert bad(path) == f"{path}: results['t0'][1] {what}", text


def test_no_verdict_on_a_broken_file_among_good_ones(tmp_path):
    broken = write_text(tmp_path / "broken.json", '{"results": {}}')
    missing = tmp_path / "missing.json"
    status, out, err = run(good(tmp_path), broken, missing)
    assert status == 2 and out == ""
    assert err.splitlines() == [f'{PREFIX}{broken}: "results" is empty: no frames',
                                f"{PREFIX}{missing}: no such file"]


def test_bad_num_output(tmp_path):
    for value in ("abc", "0", "-3", "1.5", ""):
        assert bad(good(tmp_path), "--num-output", value) == f"--num-output: not a positive integer (got {value!r})"


def test_spec_and_num_output_together(tmp_path):
    spec = write_text(tmp_path / "spec.yaml", "model:\n  head:\n    num_output: 64\n")
    assert bad(good(tmp_path), "-e", spec, "--num-output", "64") == (
        f"--num-output: give either -e SPEC or --num-output, not both (got -e {spec})")


def test_bad_spec(tmp_path):
    missing = tmp_path / "nope.yaml"
    assert bad(good(tmp_path), "-e", missing) == f"{missing}: no such file"
    spec = write_text(tmp_path / "spec.yaml", "model:\n  head:\n    num_output: many\n")
    assert bad(good(tmp_path), "-e", spec) == f"{spec}: model.head.num_output is not a positive integer (got 'many')"
    spec = write_text(tmp_path / "spec.yaml", "model:\n  head:\n    num_output: 0\n")
    assert bad(good(tmp_path), "-e", spec) == f"{spec}: model.head.num_output is not a positive integer (got 0)"


def test_gt_that_cannot_be_read(tmp_path):
    results = good(tmp_path)
    missing = tmp_path / "nope.pkl"
    assert bad(results, "--gt", missing) == f"{missing}: no such file"
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(pickle.dumps({"infos": [info("t0", [(0, 0)])]})[:20])
    assert bad(results, "--gt", truncated) == f"{truncated}: not a readable pickle (UnpicklingError: pickle data was truncated)"
    text = write_text(tmp_path / "text.pkl", "not a pickle")
    assert bad(results, "--gt", text).startswith(f"{text}: not a readable pickle (UnpicklingError: ")
    needs = tmp_path / "needs.pkl"
    needs.write_bytes(b"cno_such_module_here\nthing\n.")
    assert bad(results, "--gt", needs) == (
        f"{needs}: not readable here: the pickle needs module 'no_such_module_here', which is not installed")
    numpy_type = tmp_path / "type.pkl"
    numpy_type.write_bytes(b"cnumpy\nfloat32\n.")  # a numpy type object, not an array
    assert bad(results, "--gt", numpy_type) == (
        f"{numpy_type}: cannot read without numpy: numpy.float32 is not one the numpy-free reader stands in for")
    datetime = tmp_path / "datetime.pkl"
    datetime.write_bytes(b"cnumpy\ndtype\n(VM8\nI00\nI01\ntR.")  # numpy.dtype('M8', False, True)
    assert bad(results, "--gt", datetime) == (
        f"{datetime}: cannot read without numpy: numpy dtype 'M8' is not one the numpy-free reader decodes")
    empty_folder = tmp_path / "folder"
    empty_folder.mkdir()
    assert bad(results, "--gt", empty_folder) == f"{empty_folder}: a folder without .pkl files"


def test_gt_without_its_fields(tmp_path):
    results = good(tmp_path)
    gt = write_gt(tmp_path / "gt.pkl", [{"token": "t0", "gt_names": []}])
    assert bad(results, "--gt", gt) == f"{gt}: infos[0] (token 't0') has no \"gt_boxes\""
    gt = write_gt(tmp_path / "gt.pkl", [{"gt_boxes": []}])
    assert bad(results, "--gt", gt) == f'{gt}: infos[0] has no "token": not a TAO dataset info file'
    with open(tmp_path / "gt.pkl", "wb") as handle:
        pickle.dump({"data": []}, handle)
    assert bad(results, "--gt", gt) == f'{gt}: no "infos" list: not a TAO dataset info file'
    gt = write_gt(tmp_path / "gt.pkl", [{"token": "t0", "gt_boxes": [[0, 0, 0]]}])
    assert bad(results, "--gt", gt) == (
        f"{gt}: infos[0] (token 't0') \"gt_boxes\" is not an [N, 7] array of finite numbers (row [0, 0, 0])")
    gt = write_gt(tmp_path / "gt.pkl", [info("t0", []), info("t0", [])])
    assert bad(results, "--gt", gt) == f"{gt}: infos[1] (token 't0'): the token appears twice"
    gt = write_gt(tmp_path / "gt.pkl", [])
    assert bad(results, "--gt", gt) == f'{gt}: no infos: the "infos" list is empty'


def test_gt_and_results_must_cover_the_same_frames(tmp_path):
    results = good(tmp_path)  # frames t0, t1
    gt = write_gt(tmp_path / "gt.pkl", [info("t0", [(0, 0)])])
    assert bad(results, "--gt", gt) == (
        f"{results}: 1 of 2 frames are not in the GT {gt} (first: 't1'): not the pkl this file was inferred from?")
    gt = write_gt(tmp_path / "gt.pkl", [info("t0", []), info("t1", []), info("t2", [])])
    assert bad(results, "--gt", gt) == (
        f"{results}: 1 of 3 GT frames of {gt} have no entry (first: 't2'); TAO writes one for every frame "
        "it read: not the pkl this file was inferred from?")


def test_gt_needs_translations(tmp_path):
    results = write_text(tmp_path / "r.json", '{"results": {"t0": [{"detection_score": 0.5}]}}')
    gt = write_gt(tmp_path / "gt.pkl", [info("t0", [])])
    assert bad(results, "--gt", gt) == (
        f"{results}: results['t0'][0] has no \"translation\" [x, y, z] of finite numbers (got None): needed for --gt")
