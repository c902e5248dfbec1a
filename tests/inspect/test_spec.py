"""model.head.num_output from -e SPEC: PyYAML where importable, the minimal reader otherwise; both agree."""
from inspect_helpers import REPO, bad, fixed_like, run_json, skip, write_results, write_text

from tao_sparse4d_fix.host.inspect import spec
from tao_sparse4d_fix.host.inspect.problems import BadInput

SPECS = {
    "nested": ("model:\n  head:\n    num_output: 128\n", 128),
    "comments and quotes": ("# spec\nmodel:  # the model\n  head:\n    type: 'sparse4d'  # a comment\n"
                            "    num_output: 64   # the cap\n", 64),
    "deeper keys and siblings first": ("dataset:\n  head:\n    num_output: 5\nmodel:\n  neck:\n    num_output: 7\n"
                                       "  head:\n    instance_bank:\n      num_anchor: 900\n    num_output: 96\n"
                                       "    decoder:\n      score_threshold: 0.05\n", 96),
    "not under model.head": ("dataset:\n  head:\n    num_output: 5\nhead:\n  num_output: 6\n"
                             "model:\n  num_output: 7\n  head: {}\n", None),
    "sequences and a block scalar": ("train:\n  gpu_ids: [0, 1]\n  callbacks:\n    - name: a\n      num_output: 3\n"
                                     "    - b\nmodel:\n  note: |\n    num_output: 1\n    head:\n  head:\n"
                                     "    num_output: 200\n", 200),
    "no model at all": ("results_dir: /tmp/x\n", None),
    "empty file": ("", None),
    "a quoted number": ("model:\n  head:\n    num_output: \"48\"\n", 48),
    "an anchor on head": ("model:\n  head: &h\n    num_output: 24\n", 24),
    "the last one wins": ("model:\n  head:\n    num_output: 10\n    num_output: 20\n", 20),
    "document marker and indent 4": ("---\nmodel:\n    head:\n        num_output: 300\n", 300),
}


def read(tmp_path, text, use_pyyaml):
    return spec.resolve(write_text(tmp_path / "spec.yaml", text), None, use_pyyaml=use_pyyaml)


def test_minimal_reader(tmp_path):
    for name, (text, expected) in SPECS.items():
        value = expected if expected is not None else spec.DEFAULT_NUM_OUTPUT
        assert read(tmp_path, text, False) == (value, "spec"), name


def test_pyyaml_reads_the_same(tmp_path):
    if spec._pyyaml() is None:
        skip("PyYAML is not importable here")
    for name, (text, expected) in SPECS.items():
        value = expected if expected is not None else spec.DEFAULT_NUM_OUTPUT
        assert read(tmp_path, text, True) == (value, "spec"), name


def test_the_harness_spec_template(tmp_path):
    text = (REPO / "harness" / "specs" / "tiny_train.yaml").read_text()  # ${...} placeholders elsewhere
    assert read(tmp_path, text, False) == (32, "spec")
    if spec._pyyaml() is not None:
        assert read(tmp_path, text, True) == (32, "spec")


def test_what_the_minimal_reader_refuses(tmp_path):
    for text in ("model:\n  head: {num_output: 128}\n", "model: {head: {num_output: 128}}\n",
                 "base: &b\n  num_output: 1\nmodel:\n  head:\n    <<: *b\n", "model:\n  head: *h\n",
                 "model:\n  head:\n    num_output: !!int 3\n"):
        path = write_text(tmp_path / "spec.yaml", text)
        try:
            spec.resolve(path, None, use_pyyaml=False)
        except BadInput as error:
            assert "needs PyYAML" in error.what and "pass --num-output" in error.what, error.what
        else:
            raise AssertionError(f"read {text!r}")
    # a flow mapping elsewhere is fine
    assert read(tmp_path, "dataset: {a: 1}\nmodel:\n  head:\n    num_output: 12\n", False) == (12, "spec")
    path = write_text(tmp_path / "spec.yaml", "model:\n\thead:\n")
    try:
        spec.resolve(path, None, use_pyyaml=False)
    except BadInput as error:
        assert error.what == "not YAML (line 2: tab indentation)"
    else:
        raise AssertionError("read a tab-indented spec")


def test_pyyaml_errors_are_one_line(tmp_path):
    if spec._pyyaml() is None:
        skip("PyYAML is not importable here")
    results = write_results(tmp_path / "r.json", fixed_like())
    path = write_text(tmp_path / "spec.yaml", "model:\n  head: [\n")
    assert bad(results, "-e", path).startswith(f"{path}: not YAML (line ")
    path = write_text(tmp_path / "spec.yaml", "model: 3\n")
    assert bad(results, "-e", path) == f"{path}: model is not a mapping"


def test_a_spec_that_is_a_list(tmp_path):
    path = write_text(tmp_path / "spec.yaml", "- model:\n    head:\n      num_output: 9\n")
    for use_pyyaml in (False, True) if spec._pyyaml() else (False,):
        try:
            spec.resolve(path, None, use_pyyaml=use_pyyaml)
        except BadInput as error:
            assert error.what == "the spec is not a mapping"
        else:
            raise AssertionError("read a list")


def test_the_table_says_where_num_output_came_from(tmp_path):
    results = write_results(tmp_path / "r.json", fixed_like())
    path = write_text(tmp_path / "spec.yaml", "model:\n  head:\n    num_output: 64\n")
    assert [(m["num_output"], m["num_output_from"]) for m in run_json(results, "-e", path)[1]] == [(64, "spec")]
    assert [(m["num_output"], m["num_output_from"]) for m in run_json(results, "--num-output", 8)[1]] == [(8, "option")]
    assert [(m["num_output"], m["num_output_from"]) for m in run_json(results)[1]] == [(300, "default")]
    path = write_text(tmp_path / "spec.yaml", "model:\n  head:\n    num_anchor: 900\n")
    assert [(m["num_output"], m["num_output_from"]) for m in run_json(results, "-e", path)[1]] == [(300, "spec")]
