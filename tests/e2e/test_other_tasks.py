"""TAO's own ``sparse4d evaluate`` and ``sparse4d export`` under the switch.

The derived image sets TAO_SPARSE4D_FIX=1 for every sparse4d task, so these must
behave exactly as stock TAO. One tiny checkpoint is trained per module (the harness
stands in for the CUDA calls export makes and for NVIDIA's metrics module, which
records the results TAO hands it). With the switch on (with and without the key in
the spec) and off: evaluate hands the metrics what stock ``sparse4d inference``
writes, and export writes the same ONNX graph; with the key and the switch off,
stock TAO refuses the spec before doing anything.
"""
import json
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from conftest import BANNER, KEY, TAO
from harness import synthetic_data, testenv, tiny

pytestmark = pytest.mark.e2e

# TAO's exporter feeds a 600-instance temporal cache and hard-codes it against
# num_temp_instances; its graph is the deformable-aggregation op (nv::MSDA) and
# needs the grid mask module; a small input_shape keeps the 20 dummy cameras cheap.
ANCHORS, TEMP_INSTANCES = 640, 600
EXPORT_MODEL = ["model.use_grid_mask=true", "model.use_deformable_func=true",
                "model.head.deformable_model.use_deformable_func=true", "model.input_shape=[160,96]"]
REFUSAL = ["Error merging 'spec_key.yaml' with schema", "Key 'background_supervision' not in 'Sparse4DLossClsConfig'", f"    full_key: {KEY}"]

# Untrained scores sit below TAO's tracking threshold (0.2), so results_nusc.json would
# hold no box; raising the last classification and quality biases gives every frame boxes.
RAISE_SCORES = """
import sys, torch
ckpt = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
raised = [k for k in ckpt["state_dict"] if k.endswith(("cls_layers.6.bias", "quality_layers.6.bias"))]
for k in raised:
    ckpt["state_dict"][k] += 6.0
torch.save(ckpt, sys.argv[1])
print(len(raised))
"""

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


def tao(task, spec, switch, overrides=(), extra_env=None):
    env = testenv.tao_env(TAO)
    env.pop("TAO_SPARSE4D_FIX", None)
    if switch is not None:
        env["TAO_SPARSE4D_FIX"] = switch
    env.update(extra_env or {})
    return subprocess.run(["sparse4d", task, "-e", str(spec), *overrides], env=env, cwd=spec.parent, timeout=900,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def in_harness(script, *args):
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], env=testenv.tao_env(TAO),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def passed(done):
    return done.returncode == 0 and "Execution status: PASS" in done.stdout


def assert_plugin_state(done, switch, with_key):
    """The status table on (with the mode and where it came from), or no trace of the plugin."""
    assert (BANNER in done.stdout) == (switch == "1")
    if switch == "1":
        assert f"background_supervision: corrected (from {'spec' if with_key else 'default'})" in done.stdout


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 2-step checkpoint of the tiny model (trained stock) and its spec, with and without the key."""
    root = tmp_path_factory.mktemp("other_tasks")
    synthetic_data.generate(root / "data", seed=1, scenes=1, frames=2, num_anchors=ANCHORS)
    spec = tiny.write_spec(root / "spec.yaml", root / "data", root / "results", steps=2)
    cfg = OmegaConf.load(spec)
    OmegaConf.update(cfg, "model.head.instance_bank.num_temp_instances", TEMP_INSTANCES)
    OmegaConf.save(cfg, spec)
    OmegaConf.update(cfg, KEY, "corrected")
    OmegaConf.save(cfg, root / "spec_key.yaml")
    done = tao("train", spec, None)
    assert passed(done), done.stdout[-3000:]
    [checkpoint] = (root / "results" / "train").glob("model_epoch_*.pth")  # sparse4d_model_latest.pth links to it
    assert int(in_harness(RAISE_SCORES, checkpoint)) > 0
    return {"root": root, "checkpoint": checkpoint, "specs": {False: spec, True: root / "spec_key.yaml"}}


@pytest.fixture(scope="module")
def inference_results(trained):
    """What stock TAO's ``sparse4d inference`` writes for the checkpoint."""
    prefix = trained["root"] / "inference"
    done = tao("inference", trained["specs"][False], None, [f"inference.checkpoint={trained['checkpoint']}",
               "inference.output_nvschema=false", f"inference.jsonfile_prefix={prefix}"])
    assert passed(done), done.stdout[-3000:]
    results = json.loads((prefix / "img_bbox" / "results_nusc.json").read_text())
    assert sum(map(len, results["results"].values())) > 0  # boxes to compare, not an empty file
    return results


VARIANTS = [pytest.param("1", False, id="switch-on"), pytest.param("1", True, id="switch-on-with-key"),
            pytest.param(None, False, id="switch-off")]


@pytest.mark.parametrize("switch, with_key", VARIANTS)
def test_evaluate_hands_the_metrics_what_inference_writes(trained, inference_results, switch, with_key):
    name = f"evaluate-{switch}-{with_key}"
    record = trained["root"] / f"{name}.jsonl"
    done = tao("evaluate", trained["specs"][with_key], switch, [
        f"evaluate.checkpoint={trained['checkpoint']}", "inference.output_nvschema=false",
        f"inference.jsonfile_prefix={trained['root'] / name}", f"results_dir={trained['root'] / name}-results"],
        extra_env={"TAO_CPU_TESTONLY_METRICS_RECORD": str(record)})
    assert passed(done), done.stdout[-3000:]
    assert_plugin_state(done, switch, with_key)
    [row] = [json.loads(line) for line in record.read_text().splitlines()]
    assert row["evaluator"] == "AIC24DetEval"
    assert row["results"] == inference_results
    assert row["sample_tokens"] == list(inference_results["results"])
    status = [json.loads(line) for line in (trained["root"] / f"{name}-results" / "evaluate" / "status.json")
              .read_text().splitlines()]
    kpis = [s["kpi"] for s in status if s.get("message") == "Test metrics generated."]
    assert kpis and kpis[-1]["img_bbox_NuScenes/mAP"] == 0.0  # the stand-in's metrics reached TAO's status


@pytest.fixture(scope="module")
def onnx_graphs(trained):
    """TAO's ``sparse4d export`` (``export.on_cpu=True``) in each variant; the graph of each ONNX file."""
    graphs = {}
    for param in VARIANTS:
        switch, with_key = param.values
        onnx_file = trained["root"] / f"export-{param.id}.onnx"
        done = tao("export", trained["specs"][with_key], switch, [
            "export.on_cpu=True", f"export.checkpoint={trained['checkpoint']}", f"export.onnx_file={onnx_file}",
            f"results_dir={trained['root'] / param.id}-export", *EXPORT_MODEL])
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
def test_without_the_plugin_a_spec_with_the_key_is_refused(trained, task, overrides):
    out = trained["root"] / f"refused-{task}"
    record = trained["root"] / f"refused-{task}.jsonl"
    done = tao(task, trained["specs"][True], None, [
        f"{task}.checkpoint={trained['checkpoint']}", f"inference.jsonfile_prefix={out}",
        f"export.onnx_file={out}.onnx", f"results_dir={out}-results", *overrides],
        extra_env={"TAO_CPU_TESTONLY_METRICS_RECORD": str(record)})
    assert done.returncode == 1 and "Execution status: FAIL" in done.stdout, done.stdout[-3000:]
    lines = done.stdout.splitlines()
    assert all(line in lines for line in REFUSAL), done.stdout[-3000:]
    assert BANNER not in done.stdout
    assert not out.exists() and not record.exists() and not (out.parent / f"{out.name}.onnx").exists()
