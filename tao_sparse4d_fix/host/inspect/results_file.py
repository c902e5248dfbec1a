"""Read and validate TAO's ``results_nusc.json`` (``sparse4d inference`` / ``evaluate``).

The format TAO writes (``Omniverse3DDetTrackDataset._format_bbox``):
``{"meta": {...}, "results": {sample_token: [box, ...]}}``, every info of the
test set a key, in the dataset's (scene, timestamp) order, and each box
``sample_token, translation, size, rotation, velocity, detection_name,
detection_score, attribute_name, tracking_name, tracking_score, tracking_id``.
"""
import json
import math
from dataclasses import dataclass, field

from tao_sparse4d_fix.host.inspect.problems import BadInput, short

NO_ID = ("", "None")  # str(None): what TAO writes when a box carries no instance id


@dataclass(slots=True)
class Box:
    score: float
    xy: tuple = None  # ground-plane centre; read only when GT metrics need it
    track_id: str = None


@dataclass
class ResultsFile:
    path: str
    frames: list = field(default_factory=list)  # [(token, [Box, ...])], in the file's order
    has_tracking: bool = False  # every box carries a tracking_id
    boxes_with_id: int = 0

    @property
    def boxes(self):
        return sum(len(boxes) for _, boxes in self.frames)


def read(path, need_translation=False):
    """The validated file, or ``BadInput`` with one line naming what is wrong."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise BadInput(path, "no such file") from None
    except OSError as error:
        raise BadInput(path, f"cannot read: {error.strerror or error}") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise BadInput(path, f"not JSON (line {error.lineno} column {error.colno}: {error.msg})") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadInput(path, "not JSON (not UTF-8 text)") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise BadInput(path, 'no "results" mapping: not a results_nusc.json of TAO\'s sparse4d inference')
    results = data["results"]
    if not results:
        raise BadInput(path, '"results" is empty: no frames')
    parsed = ResultsFile(path)
    for token, boxes in results.items():
        if not isinstance(boxes, list):
            raise BadInput(path, f"results[{token!r}] is not a list of boxes (got {type(boxes).__name__})")
        parsed.frames.append((token, [_box(path, token, index, box, need_translation)
                                      for index, box in enumerate(boxes)]))
    parsed.boxes_with_id = sum(1 for _, boxes in parsed.frames for box in boxes if box.track_id is not None)
    parsed.has_tracking = parsed.boxes_with_id > 0 and parsed.boxes_with_id == parsed.boxes
    return parsed


def _box(path, token, index, box, need_translation):
    where = f"results[{token!r}][{index}]"
    if not isinstance(box, dict):
        raise BadInput(path, f"{where} is not an object (got {type(box).__name__})")
    if "detection_score" not in box:
        raise BadInput(path, f'{where} has no "detection_score"')
    score = box["detection_score"]
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise BadInput(path, f'{where} "detection_score" is not a number (got {short(score)})')
    if not math.isfinite(score):
        raise BadInput(path, f'{where} "detection_score" is not finite ({score})')
    if not 0.0 <= score <= 1.0:
        raise BadInput(path, f'{where} "detection_score" {score} is outside [0, 1]')
    xy = None
    if need_translation:
        translation = box.get("translation")
        if not (isinstance(translation, list) and len(translation) >= 2
                and all(_finite_number(v) for v in translation[:2])):
            raise BadInput(path, f'{where} has no "translation" [x, y, z] of finite numbers '
                                 f'(got {short(translation)}): needed for --gt')
        xy = (float(translation[0]), float(translation[1]))
    track_id = box.get("tracking_id")
    if track_id is not None:
        track_id = str(track_id)
        if track_id in NO_ID:
            track_id = None
    return Box(float(score), xy, track_id)


def _finite_number(value):
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
