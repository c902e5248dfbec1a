"""Two nodes through TAO's own multi-node contract, on this CPU.

Each node is TAO's ``sparse4d train -e spec.yaml`` with ``WORLD_SIZE=2`` (nodes, in
TAO's convention), ``NUM_GPU_PER_NODE=1``, its ``NODE_RANK`` and the same
``MASTER_ADDR``/``MASTER_PORT``, as a cluster would start it; Lightning connects
them over gloo. Each node has its own spec file (TAO's entrypoint rewrites the
spec's ``train.num_nodes``/``num_gpus``/``gpu_ids`` from those variables) and its
own results directory, as two machines would. The head is the smallest the runs take (conftest ``SMALL_HEAD``).
"""
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BANNER, KEY, SMALL_HEAD, TAO, testenv, tiny

# One step per node: with one device per node TAO's train.py picks Lightning's plain DDP (it asks for
# find_unused_parameters only when a node has more than one device), and Sparse4D's unused parameters
# then stop the second step in DDP's bucket rebuild, with or without the plugin (a TAO limitation).
STEPS = 1
TIMEOUT_S = 15  # TAO_SPARSE4D_FIX_RANK_TIMEOUT for the runs that must stop
TEARDOWN_S = 90  # what TAO and Lightning take to exit after the error, on these 2 shared cores
GUARD_MS = 50  # the check's own cost, beyond waiting for the slowest rank


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Node:
    """One node's ``sparse4d train`` process: its output, exit status and when it ended."""

    def __init__(self, process, results, started):
        self.process, self.results, self.started = process, results, started
        self.output, self.ended = "", None

    def wait(self, deadline):
        """Wait until ``deadline``; a process still running then is killed, and marked as hung."""
        self.hung = False
        try:
            self.output, _ = self.process.communicate(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.hung = True
            subprocess.run(["pkill", "-KILL", "-P", str(self.process.pid)])  # TAO's train.py child first
            self.process.kill()
            self.output, _ = self.process.communicate()
        self.ended = time.monotonic()
        return self

    @property
    def failed(self):
        return self.process.returncode != 0 or "Execution status: FAIL" in self.output


@pytest.fixture
def two_nodes(tmp_path, datasets):
    """Start node 0 and node 1; ``per_node[rank]`` gives that node's switch, overrides and extra env."""
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()

    def run(per_node, deadline_s):
        port = free_port()
        nodes = []
        for rank in (0, 1):
            switch, overrides, extra = per_node[rank]
            results = tmp_path / f"node{rank}"
            # TAO divides the frames among the nodes: STEPS per node means 2 x STEPS frames
            spec = tiny.write_spec(tmp_path / f"node{rank}.yaml", datasets["empty"], results, steps=2 * STEPS)
            # TAO's entrypoint sets train.num_nodes from WORLD_SIZE only when the spec holds the key
            spec.write_text(spec.read_text().replace("train:\n", "train:\n  num_nodes: 1\n", 1))
            env = testenv.tao_env(TAO)
            env.update({"TAO_SPARSE4D_FIX": switch, "WORLD_SIZE": "2", "NUM_GPU_PER_NODE": "1", "NODE_RANK": str(rank),
                        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "TAO_CPU_TESTONLY_PROBE": "rank_probe",
                        "RANK_PROBE_DIR": str(probe_dir), "TAO_CPU_TESTONLY_NO_CHECKPOINT": "1"})
            env["PYTHONPATH"] += os.pathsep + str(Path(__file__).parent)
            env.update(extra)
            process = subprocess.Popen(["sparse4d", "train", "-e", str(spec), *SMALL_HEAD, *overrides], env=env, cwd=tmp_path,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            nodes.append(Node(process, results, time.monotonic()))
        deadline = time.monotonic() + deadline_s
        for rank, node in enumerate(nodes):
            node.wait(deadline)
            (tmp_path / f"node{rank}.log").write_text(node.output)  # for a failing test's reader
        rows = {}
        for path in probe_dir.glob("rank*.jsonl"):
            rows[int(path.stem[4:])] = [json.loads(line) for line in path.read_text().splitlines()]
        return nodes, rows

    return run


def test_two_nodes_run_the_fix_on_both_ranks_in_the_same_mode(two_nodes):
    nodes, rows = two_nodes({0: ("1", [], {}), 1: ("1", [], {})}, deadline_s=600)
    for rank, node in enumerate(nodes):
        assert not node.failed, node.output[-4000:]
        assert f"background_supervision corrected (from default), node {rank} of 2" in node.output, rank
    assert nodes[0].output.count(BANNER) == 1 and BANNER not in nodes[1].output  # the table: global rank 0 only
    assert set(rows) == {0, 1}
    for rank, calls in rows.items():
        assert len(calls) == STEPS and {call["world_size"] for call in calls} == {2}, rank
        assert all(call["focal_loss_patched"] and call["mode"] == "corrected" for call in calls), rank
        # every frame is empty: only a supervised background gives a non-zero loss
        assert all(value > 0 for call in calls for value in call["loss_cls"].values()), rank
    line = next(line for line in nodes[0].output.splitlines() if "ranks run the fix" in line)
    assert line.startswith("tao-sparse4d-fix: all 2 ranks run the fix (focal_loss stock code of TAO 6.25.7.0.2-7.2.0")
    assert "mode corrected" in line
    assert float(line.split("the check took ")[1].split(" ms")[0]) < GUARD_MS, line
    assert "ranks run the fix" not in nodes[1].output  # printed once, by rank 0


def test_a_node_without_the_fix_stops_the_run_within_the_timeout(two_nodes):
    """Node 1 runs a stale image: TAO_SPARSE4D_FIX=0. Both processes end, rank 1 named, no optimizer step."""
    nodes, rows = two_nodes({0: ("1", [], {"TAO_SPARSE4D_FIX_RANK_TIMEOUT": str(TIMEOUT_S)}), 1: ("0", [], {})},
                            deadline_s=TIMEOUT_S + TEARDOWN_S + 180)
    assert not any(node.hung for node in nodes), [node.output[-3000:] for node in nodes]
    assert all(node.failed for node in nodes), [node.output[-3000:] for node in nodes]
    message = f"rank(s) 1 reported no status within {TIMEOUT_S} s (TAO_SPARSE4D_FIX_RANK_TIMEOUT)"
    assert message in nodes[0].output, nodes[0].output[-4000:]
    assert "rank 0 of 2 stops the run before its first optimizer step" in nodes[0].output
    assert "tao-sparse4d-fix: " not in nodes[1].output and BANNER not in nodes[1].output  # node 1 ran stock TAO
    assert not rows  # neither criterion returned (rank 1 waits in TAO's reduce_mean of its second layer): no step
    for rank, node in enumerate(nodes):
        took = node.ended - node.started
        # start-up + timeout + teardown; start-up is ~40 s on an idle machine, 145 s was seen with the test suites
        # side by side and a benchmark on the 2 cores: the hang this guards against is caught by the deadline above
        assert took < TIMEOUT_S + TEARDOWN_S + 150, (rank, took)
    print(f"ended after {nodes[0].ended - nodes[0].started:.0f} s (node 0) and {nodes[1].ended - nodes[1].started:.0f} s "
          f"(node 1), {nodes[1].ended - nodes[0].ended:+.1f} s apart")


def test_a_node_with_another_mode_stops_the_run_naming_it(two_nodes):
    """An override on one node only: both nodes are patched, but would train different losses."""
    nodes, rows = two_nodes({0: ("1", [], {}), 1: ("1", [f"{KEY}=original"], {})}, deadline_s=600)
    assert not any(node.hung for node in nodes), [node.output[-3000:] for node in nodes]
    assert all(node.failed for node in nodes)
    assert "mode differs: 'corrected' on rank(s) 0; 'original' on rank(s) 1" in nodes[0].output, nodes[0].output[-4000:]
    assert "reported no status" not in nodes[0].output
    assert not rows  # neither criterion returned
