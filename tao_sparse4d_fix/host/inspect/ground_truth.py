"""The GT boxes per frame from TAO's own dataset info ``.pkl`` (``--gt``).

What TAO's ``Omniverse3DDetTrackDataset.load_annotations`` reads with
``pickle.load``: a file ``{"infos": [...], "metadata": {...}}`` (a bare list
of infos is taken too), or a folder whose ``*.pkl`` files each hold one
(TAO's ``ann_file`` may be either). Each info: ``token``, ``gt_boxes``
[N, 7] (x, y, z, w, l, h, yaw; the centre TAO's predictions are compared
with), ``gt_names`` [N], ``instance_inds`` [N], ``scene_name``, ``timestamp``.
Only ``token`` and ``gt_boxes`` are required; every GT box counts (no
valid_flag / class filter: the matching is class-agnostic).

Read by ``numpy_free``: no code of the file runs (an allow-list of
builtins and numpy's array stand-ins), expansion and depth are bounded.
"""
import math
import os
from dataclasses import dataclass, field

from tao_sparse4d_fix.host.inspect import numpy_free
from tao_sparse4d_fix.host.inspect.problems import BadInput, short
from tao_sparse4d_fix.host.inspect.source import MB, open_regular

MAX_PKL_BYTES = 4096 * MB  # nuScenes' full trainval infos are ~1 GB


@dataclass
class Frame:
    centres: list  # [(x, y)] of the GT boxes
    scene: str = None


@dataclass
class GroundTruth:
    path: str
    frames: dict = field(default_factory=dict)  # str(token) -> Frame
    has_scenes: bool = False  # every info names its scene_name


def read(path):
    """The GT of a file or a folder of ``.pkl`` files, or ``BadInput`` with one line."""
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if n.endswith(".pkl"))
        if not names:
            raise BadInput(path, "a folder without .pkl files")
        infos = []
        for name in names:
            infos.extend(_infos(os.path.join(path, name)))
    else:
        infos = _infos(path)
    gt = GroundTruth(path)
    scenes = 0
    for index, info in enumerate(infos):
        where = f"infos[{index}]"
        if not isinstance(info, dict) or "token" not in info:
            raise BadInput(path, f'{where} has no "token": not a TAO dataset info file')
        token = str(info["token"])
        where = f"{where} (token {token!r})"
        if token in gt.frames:
            raise BadInput(path, f"{where}: the token appears twice")
        if "gt_boxes" not in info:
            raise BadInput(path, f'{where} has no "gt_boxes"')
        gt.frames[token] = Frame(_centres(path, where, info["gt_boxes"]),
                                 None if info.get("scene_name") is None else str(info["scene_name"]))
        scenes += gt.frames[token].scene is not None
    if not gt.frames:
        raise BadInput(path, 'no infos: the "infos" list is empty')
    gt.has_scenes = scenes == len(gt.frames)
    return gt


def _infos(path):
    try:
        with open_regular(path, MAX_PKL_BYTES) as handle:
            data = numpy_free.load(handle)
    except BadInput:
        raise
    except OSError as error:
        raise BadInput(path, f"cannot read: {error.strerror or error}") from None
    except numpy_free.UnsupportedNumpy as error:
        raise BadInput(path, f"cannot read without numpy: {error}") from None
    except numpy_free.MissingModule as error:
        raise BadInput(path, f"not readable here: the pickle needs module {error.module!r}, which is not installed") from None
    except numpy_free.Refused as error:
        raise BadInput(path, f"refused: {error}") from None
    except Exception as error:  # a pickle can fail in any way: never a traceback
        raise BadInput(path, f"not a readable pickle ({type(error).__name__}: {_first_line(error)})") from None
    if isinstance(data, dict) and isinstance(data.get("infos"), list):
        return data["infos"]
    if isinstance(data, list):
        return data
    raise BadInput(path, 'no "infos" list: not a TAO dataset info file')


def _centres(path, where, boxes):
    if not isinstance(boxes, list):
        raise BadInput(path, f'{where} "gt_boxes" is not an [N, 7] array (got {short(boxes)})')
    centres = []
    for row in boxes:
        if not (isinstance(row, (list, tuple)) and len(row) >= 7 and all(_finite(v) for v in row[:2])):
            raise BadInput(path, f'{where} "gt_boxes" is not an [N, 7] array of finite numbers (row {short(row)})')
        centres.append((float(row[0]), float(row[1])))
    return centres


def _finite(value):
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else "no detail"
