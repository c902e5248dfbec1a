"""TAO's own ``sparse4d evaluate`` and ``sparse4d export`` under the switch.

The derived image sets TAO_SPARSE4D_FIX=1 for every sparse4d task, so these must
behave exactly as stock TAO. ``evaluate`` reads the session's stock-trained checkpoint
and what stock ``sparse4d inference`` wrote for it (conftest ``tao_run``); ``export``
needs a model of the size TAO's exporter hard-codes (its instance bank, and six decoder
layers: it reads ``prediction[5]``), trained one step here by stock TAO in its default ``bf16``
precision, which is also the test command's stock bf16 run (the harness stands in for
the CUDA calls export makes and for NVIDIA's metrics module, which records the results
TAO hands it). With the switch on (with and without the key in
the spec) and off: evaluate hands the metrics what stock ``sparse4d inference``
writes (with the switch on, the plugin's track-ID keys set to TAO's own IDs: by default
its tracker suppresses duplicates and re-assigns IDs, which tests/e2e/test_id_continuity.py
covers), and export writes the same ONNX graph; with the key and the switch off,
stock TAO refuses the spec before doing anything.
"""
import json
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from conftest import BANNER, KEY, TAO, Run, passed, tao_task
from harness import synthetic_data, testenv, tiny

pytestmark = pytest.mark.e2e

# TAO's exporter feeds a 600-instance temporal cache and hard-codes it against
# num_temp_instances; its graph is the deformable-aggregation op (nv::MSDA) and
# needs the grid mask module; a small input_shape keeps the 20 dummy cameras cheap.
# It also hard-codes TAO's six decoder layers (prediction[1] .. prediction[5]): the
# tiny spec's head is the smallest it takes.
ANCHORS, TEMP_INSTANCES = 640, 600
EXPORT_MODEL = ["model.use_grid_mask=true", "model.use_deformable_func=true",
                "model.head.deformable_model.use_deformable_func=true", "model.input_shape=[160,96]"]
REFUSAL = ["Error merging 'spec_key.yaml' with schema", "Key 'background_supervision' not in 'Sparse4DLossClsConfig'", f"    full_key: {KEY}"]

# Graph, not bytes: node doc_strings carry the Python stack of each traced op.
GRAPH = """
import hashlib, json, sys, onnx
from onnx import numpy_helper
g = onnx.load(sys.argv[1]).graph
for n in g.node:
    n.doc_string = ""
print(json.dumps({
    "nodes": hashlib.sha256(b"".join(n.SerializeToString() for n in g.node)).hexdigest(),
    "initializers": hashlib.sha256(b"".join(t.SerializeToString() for t in g.initializer)).hexdigest(),
    "io": [[v.name for v in g.input], [v.name for v in g.output]],
    "node_count": len(g.node), "initializer_count": len(g.initializer),
    "parameters": sum(numpy_helper.to_array(t).size for t in g.initializer),
    "ops": sorted({f"{n.domain}::{n.op_type}" for n in g.node}),
}))
"""


def in_harness(script, *args):
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], env=testenv.tao_env(TAO),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def assert_plugin_state(done, switch, with_key):
    """The status table on (with the mode and where it came from), or no trace of the plugin."""
    assert (BANNER in done.stdout) == (switch == "1")
    if switch == "1":
        assert f"background_supervision: corrected (from {'spec' if with_key else 'default'})" in done.stdout


@pytest.fixture(scope="module")
def export_model(tmp_path_factory):
    """A 1-step checkpoint (trained stock, in TAO's default bf16 precision) of a model the exporter takes, and its
    spec, with and without the key. The training is also the test command's run of stock TAO in bf16 (Lightning
    bf16-mixed, CPU autocast here) on a frame with objects: it trains with finite losses."""
    root = tmp_path_factory.mktemp("export_model")
    synthetic_data.generate(root / "data", seed=1, scenes=1, frames=1, num_anchors=ANCHORS)
    spec = tiny.write_spec(root / "spec.yaml", root / "data", root / "results", steps=1)
    cfg = OmegaConf.load(spec)
    OmegaConf.update(cfg, "model.head.instance_bank.num_temp_instances", TEMP_INSTANCES)
    OmegaConf.save(cfg, spec)
    OmegaConf.update(cfg, KEY, "corrected")
    OmegaConf.save(cfg, root / "spec_key.yaml")
    done = tao_task("train", spec, None, ["train.precision=bf16"])
    assert passed(done), done.stdout[-3000:]
    assert BANNER not in done.stdout
    trained = Run(done, root / "results")
    assert trained.cls_losses() and trained.all_losses_finite()
    [checkpoint] = (root / "results" / "train").glob("model_epoch_*.pth")  # sparse4d_model_latest.pth links to it
    return {"root": root, "checkpoint": checkpoint, "specs": {False: spec, True: root / "spec_key.yaml"}}


@pytest.fixture(scope="module")
def evaluated(tao_run):
    """The session's stock-trained checkpoint (its scores are inflated: boxes in every frame), its specs reading
    the held-out frames, and what stock TAO's ``sparse4d inference`` wrote for it."""
    root = tao_run["root"]
    results = json.loads(tao_run["results_nusc"]["stock"].read_text())
    assert sum(map(len, results["results"].values())) > 0  # boxes to compare, not an empty file
    return {"root": root, "checkpoint": tao_run["runs"]["stock"].checkpoint, "results": results,
            "specs": {False: root / "stock_heldout.yaml", True: root / "stock_heldout_key.yaml"}}


TAO_IDS = ("model.head.instance_bank.track_gate=0", "model.head.instance_bank.id_continuity_gate=0")
VARIANTS = [pytest.param("1", False, id="switch-on"), pytest.param("1", True, id="switch-on-with-key"),
            pytest.param(None, False, id="switch-off")]


@pytest.mark.parametrize("switch, with_key", VARIANTS)
def test_evaluate_hands_the_metrics_what_inference_writes(evaluated, switch, with_key):
    name = f"evaluate-{switch}-{with_key}"
    record = evaluated["root"] / f"{name}.jsonl"
    done = tao_task("evaluate", evaluated["specs"][with_key], switch, [
        f"evaluate.checkpoint={evaluated['checkpoint']}", "inference.output_nvschema=false",
        f"inference.jsonfile_prefix={evaluated['root'] / name}", f"results_dir={evaluated['root'] / name}-results",
        *(TAO_IDS if switch == "1" else ())], extra_env={"TAO_CPU_TESTONLY_METRICS_RECORD": str(record)})
    assert passed(done), done.stdout[-3000:]
    assert_plugin_state(done, switch, with_key)
    [row] = [json.loads(line) for line in record.read_text().splitlines()]
    assert row["evaluator"] == "AIC24DetEval"
    assert row["results"] == evaluated["results"]
    assert row["sample_tokens"] == list(evaluated["results"]["results"])
    status = [json.loads(line) for line in (evaluated["root"] / f"{name}-results" / "evaluate" / "status.json")
              .read_text().splitlines()]
    kpis = [s["kpi"] for s in status if s.get("message") == "Test metrics generated."]
    assert kpis and kpis[-1]["img_bbox_NuScenes/mAP"] == 0.0  # the stand-in's metrics reached TAO's status


@pytest.fixture(scope="module")
def onnx_graphs(export_model):
    """TAO's ``sparse4d export`` (``export.on_cpu=True``) in each variant; the graph of each ONNX file."""
    graphs = {}
    for param in VARIANTS:
        switch, with_key = param.values
        onnx_file = export_model["root"] / f"export-{param.id}.onnx"
        done = tao_task("export", export_model["specs"][with_key], switch, [
            "export.on_cpu=True", f"export.checkpoint={export_model['checkpoint']}", f"export.onnx_file={onnx_file}",
            f"results_dir={export_model['root'] / param.id}-export", *EXPORT_MODEL])
        assert passed(done), done.stdout[-3000:]
        assert_plugin_state(done, switch, with_key)
        graphs[param.id] = json.loads(in_harness(GRAPH, onnx_file))
        onnx_file.unlink()  # about 340 MB each
    return graphs


def test_export_writes_the_same_onnx_graph_with_and_without_the_plugin(onnx_graphs):
    stock = onnx_graphs["switch-off"]
    print(json.dumps({k: {f: v[f] for f in ("node_count", "initializer_count", "parameters")}
                      for k, v in onnx_graphs.items()}))
    assert stock["node_count"] > 100 and stock["parameters"] > 1_000_000
    assert "nv::MSDA" in stock["ops"]  # TAO's own deformable-aggregation symbolic
    for variant in ("switch-on", "switch-on-with-key"):
        assert onnx_graphs[variant] == stock, variant


@pytest.mark.parametrize("task, overrides", [
    ("evaluate", ["inference.output_nvschema=false"]),
    ("export", ["export.on_cpu=True", *EXPORT_MODEL]),
])
def test_without_the_plugin_a_spec_with_the_key_is_refused(export_model, task, overrides):
    trained = export_model  # refused before the checkpoint is read: any spec with the key will do
    out = trained["root"] / f"refused-{task}"
    record = trained["root"] / f"refused-{task}.jsonl"
    done = tao_task(task, trained["specs"][True], None, [
        f"{task}.checkpoint={trained['checkpoint']}", f"inference.jsonfile_prefix={out}",
        f"export.onnx_file={out}.onnx", f"results_dir={out}-results", *overrides],
        extra_env={"TAO_CPU_TESTONLY_METRICS_RECORD": str(record)})
    assert done.returncode == 1 and "Execution status: FAIL" in done.stdout, done.stdout[-3000:]
    lines = done.stdout.splitlines()
    assert all(line in lines for line in REFUSAL), done.stdout[-3000:]
    assert BANNER not in done.stdout
    assert not out.exists() and not record.exists() and not (out.parent / f"{out.name}.onnx").exists()
