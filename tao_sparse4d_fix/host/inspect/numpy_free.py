"""Unpickle a file that holds numpy arrays, without numpy: arrays become nested lists.

TAO's dataset reads its info ``.pkl`` with ``pickle.load``; the infos hold
numpy arrays and scalars. ``Unpickler.find_class`` hands the pickle small
pure-Python stand-ins for the globals numpy's pickles call (numpy 1.x's
``numpy.core...`` and numpy 2's ``numpy._core...``):

* ``multiarray._reconstruct`` + ``ndarray`` + the BUILD state
  ``(version, shape, dtype, is_fortran, raw)``: protocols 0-4, and object arrays;
* ``numeric._frombuffer(buffer, dtype, shape, order)``: protocol 5;
* ``multiarray.scalar(dtype, raw)``: numpy scalars (``np.float64(1.5)``);
* ``numpy.dtype(spec, align, copy)`` + its state (byte order).

Decoded dtypes: bool, signed/unsigned int of 1-8 bytes, float16/32/64, fixed
unicode ``U`` and bytes ``S`` (trailing NULs dropped, as numpy does), and
object arrays. Any other numpy global (a structured dtype, datetime, a numpy
type object) is refused with ``UnsupportedNumpy`` instead of importing numpy.
Every non-numpy global is resolved as ``pickle`` always does, so unpickling
runs whatever code the file names: load only files you trust (your own).
"""
import pickle
import struct
import sys


class UnsupportedNumpy(pickle.UnpicklingError):
    pass


_NUMERIC = {("b", 1): "?", ("i", 1): "b", ("i", 2): "h", ("i", 4): "i", ("i", 8): "q",
            ("u", 1): "B", ("u", 2): "H", ("u", 4): "I", ("u", 8): "Q",
            ("f", 2): "e", ("f", 4): "f", ("f", 8): "d"}
_ORDER = {"<": "<", ">": ">", "|": "<", "=": "="}


class DType:
    """Stand-in for ``numpy.dtype``: the kind, the item size and the byte order."""

    def __init__(self, spec, align=False, copy=False):
        if not isinstance(spec, str) or len(spec) < 2 or not spec[1:].isdigit():
            raise UnsupportedNumpy(f"numpy dtype {spec!r} is not one the numpy-free reader decodes")
        self.kind, self.size, self.byteorder = spec[0], int(spec[1:]), "="
        if self.kind not in "biufUSO":
            raise UnsupportedNumpy(f"numpy dtype {spec!r} is not one the numpy-free reader decodes")

    def __setstate__(self, state):
        # (version, byteorder, subarray, names, fields, elsize, alignment, flags)
        if not isinstance(state, tuple) or len(state) < 2:
            raise UnsupportedNumpy(f"numpy dtype state {state!r} is not understood")
        if len(state) > 4 and (state[2] is not None or state[3] is not None):
            raise UnsupportedNumpy("structured numpy dtypes are not decoded by the numpy-free reader")
        self.byteorder = state[1]
        if self.kind in "US" and len(state) > 5 and isinstance(state[5], int) and state[5] > 0:
            self.size = state[5] // (4 if self.kind == "U" else 1)

    def decode(self, raw, count):
        """``count`` items from the raw bytes (or, for object arrays, the list itself)."""
        if self.kind == "O":
            items = list(raw)
        else:
            raw = bytes(raw)
            order = _ORDER.get(self.byteorder, "=")
            if self.kind == "U":
                width = 4 * self.size
                codec = "utf-32-be" if order == ">" or (order == "=" and sys.byteorder == "big") else "utf-32-le"
                items = [raw[i * width:(i + 1) * width].decode(codec).rstrip("\x00") for i in range(count)]
            elif self.kind == "S":
                items = [raw[i * self.size:(i + 1) * self.size].rstrip(b"\x00") for i in range(count)]
            else:
                code = _NUMERIC.get((self.kind, self.size))
                if code is None:
                    raise UnsupportedNumpy(f"numpy dtype {self.kind}{self.size} is not decoded by the numpy-free reader")
                items = list(struct.unpack(f"{order}{count}{code}", raw[: count * self.size]))
        if len(items) != count:
            raise pickle.UnpicklingError(f"numpy array data holds {len(items)} items, its shape {count}")
        return items


class Array:
    """Stand-in for ``numpy.ndarray`` while unpickling; ``value`` is the nested list."""

    def __init__(self, *args):
        self.value = []

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise UnsupportedNumpy("numpy array state is not understood")
        shape, dtype, fortran, raw = state[-4:]
        if not isinstance(dtype, DType):
            raise UnsupportedNumpy("numpy array without a plain dtype")
        self.value = _nest(dtype.decode(raw, _count(shape)), tuple(shape), bool(fortran))


def _count(shape):
    count = 1
    for n in shape:
        count *= int(n)
    return count


def _nest(flat, shape, fortran=False):
    """The nested lists of a C-ordered (or Fortran-ordered) flat list; a 0-d array is its item."""
    if not shape:
        return flat[0]
    if fortran and len(shape) > 1:
        flat = _fortran_to_c(flat, shape)
    return _build(flat, shape)


def _build(flat, shape):
    if len(shape) == 1:
        return list(flat)
    step = _count(shape[1:])
    return [_build(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def _fortran_to_c(flat, shape):
    strides, step = [], 1
    for n in shape:
        strides.append(step)
        step *= n
    out = []

    def walk(axis, offset):
        if axis == len(shape):
            out.append(flat[offset])
            return
        for i in range(shape[axis]):
            walk(axis + 1, offset + i * strides[axis])

    walk(0, 0)
    return out


def _reconstruct(subtype, shape, typecode):
    if subtype is not Array:
        raise UnsupportedNumpy("a numpy array subclass is not decoded by the numpy-free reader")
    return Array()


def _frombuffer(buffer, dtype, shape, order="C"):
    if not isinstance(dtype, DType):
        raise UnsupportedNumpy("numpy array without a plain dtype")
    shape = tuple(shape)
    return _nest(dtype.decode(buffer, _count(shape)), shape, order == "F")


def _scalar(dtype, raw=None):
    if not isinstance(dtype, DType):
        raise UnsupportedNumpy("numpy scalar without a plain dtype")
    if dtype.kind == "O":
        return raw
    return dtype.decode(raw, 1)[0]


_STAND_INS = {("numpy", "dtype"): DType, ("numpy", "ndarray"): Array}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _STAND_INS[(_module, "_reconstruct")] = _reconstruct
    _STAND_INS[(_module, "scalar")] = _scalar
for _module in ("numpy.core.numeric", "numpy._core.numeric"):
    _STAND_INS[(_module, "_frombuffer")] = _frombuffer


class Unpickler(pickle.Unpickler):
    """``pickle.Unpickler`` with numpy's reconstruction globals replaced by the stand-ins above."""

    def find_class(self, module, name):
        stand_in = _STAND_INS.get((module, name))
        if stand_in is not None:
            return stand_in
        if module == "numpy" or module.startswith("numpy."):
            raise UnsupportedNumpy(f"{module}.{name} is not one the numpy-free reader stands in for")
        return super().find_class(module, name)


def plain(value):
    """``value`` with every array stand-in replaced by its nested list (tuples stay tuples)."""
    if isinstance(value, Array):
        return plain(value.value)
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return value


def load(handle):
    """Unpickle an open binary file without numpy; arrays come back as nested lists."""
    return plain(Unpickler(handle).load())
