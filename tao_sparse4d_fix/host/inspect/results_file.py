"""Read and validate TAO's ``results_nusc.json`` (``sparse4d inference`` / ``evaluate``), streaming.

The format TAO writes (``Omniverse3DDetTrackDataset._format_bbox``):
``{"meta": {...}, "results": {sample_token: [box, ...]}}``, every info of the
test set a key, in the dataset's (scene, timestamp) order, and each box
``sample_token, translation, size, rotation, velocity, detection_name,
detection_score, attribute_name, tracking_name, tracking_score, tracking_id``.

A validation set's file is ~600 MB (6,000 frames x 300 boxes): it is read in
1 MB chunks. The two outer objects are scanned here (their braces, keys,
colons and commas, with the json module's own error messages); every value
inside them (``meta``, one frame's list of boxes) is decoded whole by the
json module's C scanner, turned into small ``Box`` records and dropped, so
the peak memory is the records plus one frame, not the file's objects
(bench/inspect_memory.py measures it). A single value larger than
``MAX_VALUE_BYTES`` is refused, as is a sample token that appears twice
(json.loads would keep the last and lose the other's boxes silently).
"""
import codecs
import json
import math
from dataclasses import dataclass, field

from tao_sparse4d_fix.host.inspect.problems import BadInput, short
from tao_sparse4d_fix.host.inspect.source import MB, open_regular

NO_ID = ("", "None")  # str(None): what TAO writes when a box carries no instance id
MAX_FILE_BYTES = 64 << 30
MAX_VALUE_BYTES = 64 * MB  # one frame's boxes: ~100 kB for 300 boxes
CHUNK = MB
WHITESPACE = " \t\n\r"
_NEAR_END = 64  # a decode error this close to the buffer's end may only mean the value goes on


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
    with open_regular(path, MAX_FILE_BYTES) as handle:
        reader = _Reader(path, handle)
        parsed = ResultsFile(path)
        _top_level(reader, parsed, need_translation)
    if not parsed.frames:
        raise BadInput(path, '"results" is empty: no frames')
    parsed.boxes_with_id = sum(1 for _, boxes in parsed.frames for box in boxes if box.track_id is not None)
    parsed.has_tracking = parsed.boxes_with_id > 0 and parsed.boxes_with_id == parsed.boxes
    return parsed


def _no_results(path):
    return BadInput(path, 'no "results" mapping: not a results_nusc.json of TAO\'s sparse4d inference')


def _top_level(reader, parsed, need_translation):
    first = reader.peek()
    if first != "{":
        if first and first in '["-0123456789tfn':
            raise _no_results(reader.path)  # JSON, but not an object
        raise reader.error("Expecting value")
    reader.take()
    found = False
    for key in reader.members():
        if key == "results":
            if found:
                raise BadInput(reader.path, 'the key "results" appears twice: not a file TAO wrote')
            found = True
            if reader.peek() != "{":
                raise _no_results(reader.path)
            reader.take()
            _frames(reader, parsed, need_translation)
        else:
            reader.value()
    reader.end()
    if not found:
        raise _no_results(reader.path)


def _frames(reader, parsed, need_translation):
    seen = {}
    ids = {}  # one str per distinct tracking id: the same ids recur in every frame
    for token in reader.members():
        boxes = reader.value()
        if token in seen:
            raise BadInput(reader.path, f"results has the sample token {token!r} twice (frames {seen[token] + 1} and "
                                        f"{len(parsed.frames) + 1}): not a file TAO wrote; its boxes would be lost")
        seen[token] = len(parsed.frames)
        if not isinstance(boxes, list):
            raise BadInput(reader.path, f"results[{token!r}] is not a list of boxes (got {type(boxes).__name__})")
        parsed.frames.append((token, [_box(reader.path, token, index, box, need_translation, ids)
                                      for index, box in enumerate(boxes)]))


def _box(path, token, index, box, need_translation, ids):
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
        raise BadInput(path, f'{where} "detection_score" {short(score)} is outside [0, 1]')
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
        track_id = str(track_id) if not isinstance(track_id, str) else track_id
        track_id = None if track_id in NO_ID else ids.setdefault(track_id, track_id)
    return Box(float(score), xy, track_id)


def _finite_number(value):
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def _number(text):
    """JSON integers as the json module reads them, except that one too long for an int becomes a float
    (``inf`` when out of range: refused as not finite, never an OverflowError)."""
    return int(text) if len(text) <= 300 else float(text)


class _Reader:
    """The file as a moving window of text: peek and take structural characters, decode whole values."""

    def __init__(self, path, handle):
        self.path = path
        self.handle = handle
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.json = json.JSONDecoder(parse_int=_number)
        self.buffer = ""
        self.pos = 0
        self.eof = False
        self.dropped_lines = 0  # newlines in the text already dropped from the window
        self.dropped_column = 0  # characters since the last dropped newline
        self.read_bytes = 0

    def _more(self, at_least=CHUNK):
        """Append at least ``at_least`` more bytes of text to the window; False at the end of the file."""
        if self.eof:
            return False
        if self.pos > CHUNK:  # drop what is consumed, keeping count of lines for the messages
            dropped = self.buffer[:self.pos]
            newlines = dropped.count("\n")
            self.dropped_lines += newlines
            self.dropped_column = (len(dropped) - dropped.rfind("\n") - 1) if newlines else self.dropped_column + len(dropped)
            self.buffer = self.buffer[self.pos:]
            self.pos = 0
        raw = self.handle.read(max(at_least, CHUNK))
        self.read_bytes += len(raw)
        if self.read_bytes > MAX_FILE_BYTES:
            raise BadInput(self.path, f"larger than the {MAX_FILE_BYTES // MB} MB this reader takes")
        try:
            self.buffer += self.decoder.decode(raw, final=not raw)
        except UnicodeDecodeError:
            raise BadInput(self.path, "not JSON (not UTF-8 text)") from None
        self.eof = not raw
        return bool(raw)

    def _skip_space(self):
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buffer) or not self._more():
                return

    def peek(self):
        """The next character that is not whitespace ('' at the end)."""
        self._skip_space()
        return self.buffer[self.pos] if self.pos < len(self.buffer) else ""

    def take(self):
        self.pos += 1

    def where(self, pos):
        """``line L column C`` of a position in the window, counted from the file's start."""
        before = self.buffer[:pos]
        newlines = before.count("\n")
        column = (pos - before.rfind("\n")) if newlines else self.dropped_column + pos + 1
        return f"line {self.dropped_lines + newlines + 1} column {column}"

    def error(self, message, pos=None):
        return BadInput(self.path, f"not JSON ({self.where(self.pos if pos is None else pos)}: {message})")

    def value(self):
        """Decode the next whole JSON value (at most MAX_VALUE_BYTES of text), reading on while it is cut off."""
        self._skip_space()
        while True:
            try:
                value, end = self.json.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as error:
                cut_off = error.pos >= len(self.buffer) - _NEAR_END or error.msg.startswith("Unterminated string")
                if cut_off and not self.eof and len(self.buffer) - self.pos <= MAX_VALUE_BYTES:
                    self._more(len(self.buffer) - self.pos)  # double the window: linear in the value's size
                    continue
                if cut_off and not self.eof:
                    raise BadInput(self.path, f"the value at {self.where(self.pos)} is larger than "
                                              f"{MAX_VALUE_BYTES // MB} MB: not a frame TAO wrote") from None
                raise self.error(error.msg, error.pos) from None
            except RecursionError:
                raise self.error("nested deeper than this reader allows") from None
            except ValueError as error:  # e.g. a number beyond the float range in exotic syntax
                raise self.error(str(error)) from None
            if self.eof or not _may_go_on(self.buffer, end):
                self.pos = end
                return value
            self._more()  # a number at the very end of the window may have more digits: read on, decode again

    def members(self):
        """Yield each key of the object whose '{' was just taken, leaving the reader at its value."""
        if self.peek() == "}":
            self.take()
            return
        while True:
            if self.peek() != '"':
                raise self.error("Expecting property name enclosed in double quotes")
            key = self.value()
            if self.peek() != ":":
                raise self.error("Expecting ':' delimiter")
            self.take()
            if not self.peek():
                raise self.error("Expecting value")
            yield key
            following = self.peek()
            self.take()
            if following == "}":
                return
            if following != ",":
                raise self.error("Expecting ',' delimiter", self.pos - 1)

    def end(self):
        if self.peek():
            raise self.error("Extra data")


def _may_go_on(buffer, end):
    """Whether the value that ended at ``end`` (the window's end) could continue in the next chunk."""
    return end == len(buffer) and buffer[end - 1:end] in tuple("0123456789.eE+-")
