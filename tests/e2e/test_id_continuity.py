"""Track IDs through TAO's own ``sparse4d inference -e spec.yaml`` (tracking mode, TAO's default
``inference.tracking.enabled``), on the shared fix-trained checkpoint (conftest ``tao_run``): ID continuity
(1 m) changes track IDs only; the plugin's defaults (the tracker: association and duplicate suppression,
the evidence's advice) show a subset of TAO's boxes with each ID once per frame and fewer IDs; a bad value
is refused before anything is written."""
import json
from collections import Counter

from conftest import passed, tao_task

GATE_KEY = "model.head.instance_bank.id_continuity_gate"
BANK = "model.head.instance_bank"


def tracking_inference(tao_run, name, switch, overrides=()):
    prefix = tao_run["root"] / f"continuity_{name}"
    done = tao_task("inference", tao_run["root"] / "fixed_heldout.yaml", switch,
                    [f"inference.checkpoint={tao_run['runs']['fixed'].checkpoint}", "inference.output_nvschema=false",
                     f"inference.jsonfile_prefix={prefix}", *overrides])
    return done, prefix / "img_bbox" / "results_nusc.json"


def boxes_and_ids(path):
    """Per frame: the boxes (without their IDs) and the IDs, in TAO's order."""
    results = json.loads(path.read_text())["results"]
    boxes = {token: [(b["translation"], b["size"], b["rotation"], b["tracking_score"], b["tracking_name"]) for b in frame]
             for token, frame in results.items()}
    ids = {token: [b["tracking_id"] for b in frame] for token, frame in results.items()}
    return boxes, ids


def distinct_ids(ids):
    return len({i for frame in ids.values() for i in frame})


def test_continuity_changes_track_ids_only_and_the_tracker_shows_a_subset_with_fewer_ids(tao_run):
    stock_done, stock_file = tracking_inference(tao_run, "stock", None)
    gate_done, gate_file = tracking_inference(tao_run, "gate", "1", [f"{GATE_KEY}=1.0", f"{BANK}.track_gate=0"])
    off_done, off_file = tracking_inference(tao_run, "gate0", "1", [f"{GATE_KEY}=0", f"{BANK}.track_gate=0"])
    tracker_done, tracker_file = tracking_inference(tao_run, "tracker", "1")  # no key: the plugin's defaults
    for done in (stock_done, gate_done, off_done, tracker_done):
        assert passed(done), done.stdout[-3000:]
    assert "ID continuity: a fresh detection takes the ID of a carried query within 1 m" in gate_done.stdout
    assert ("tracker: gate 1 m (+0 x speed x time), memory 0 frames, greedy, duplicates within 1 m suppressed"
            in tracker_done.stdout)
    assert json.loads(off_file.read_text())["results"] == json.loads(stock_file.read_text())["results"]  # 0: TAO's
    stock_boxes, stock_ids = boxes_and_ids(stock_file)
    gate_boxes, gate_ids = boxes_and_ids(gate_file)
    assert gate_boxes == stock_boxes and sum(map(len, gate_boxes.values())) > 0
    for frame in gate_ids.values():
        assert max(Counter(frame).values(), default=1) == 1
    assert distinct_ids(gate_ids) <= distinct_ids(stock_ids)
    tracker_boxes, tracker_ids = boxes_and_ids(tracker_file)
    assert tracker_boxes.keys() == stock_boxes.keys()
    for token, frame in tracker_boxes.items():  # TAO's boxes, less the suppressed duplicates
        assert all(box in stock_boxes[token] for box in frame)
    for frame in tracker_ids.values():
        assert max(Counter(frame).values(), default=1) == 1
    assert 0 < distinct_ids(tracker_ids) < distinct_ids(stock_ids)


def test_an_invalid_gate_stops_inference_before_anything_is_written(tao_run):
    done, path = tracking_inference(tao_run, "invalid", "1", [f"{GATE_KEY}=-1.0"])
    assert not passed(done)
    assert f"{GATE_KEY}=-1.0 is not a valid value; valid values are numbers from 0 to 10 metres" in done.stdout
    assert not path.exists()


def test_without_the_plugin_the_key_is_refused_by_tao_schema(tao_run):
    done, path = tracking_inference(tao_run, "off", None, [f"{GATE_KEY}=1.0"])
    assert not passed(done) and "id_continuity_gate" in done.stdout
    assert not path.exists()
