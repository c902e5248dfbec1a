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

No other code runs: ``find_class`` answers only from an allow-list (the
builtin containers and scalars TAO's infos are made of, ``OrderedDict``,
and ``_codecs.encode`` for protocol 0-2 bytes); any other global, be it
``os.system`` or a class of the user's own, is ``Refused`` without importing
anything. And no file may expand without bound: shared references
(``[x, x]`` nested twenty deep is 6 kB of pickle and a trillion items as
lists) are counted as the tree they become, at most ``MAX_ITEMS`` items and
``MAX_DEPTH`` levels; an array's shape must match its data.
"""
import _compat_pickle
import builtins
import codecs
import collections
import importlib.util
import pickle
import struct
import sys

from tao_sparse4d_fix.errors import PluginError

MAX_ITEMS = 50_000_000  # every scalar, list and dict counted as the tree it expands to
MAX_DEPTH = 100  # TAO's infos are 5 deep


class UnsupportedNumpy(PluginError, pickle.UnpicklingError):
    pass


class Refused(PluginError, pickle.UnpicklingError):
    """The pickle names code outside the allow-list, or expands beyond the bounds: nothing of it ran."""


class MissingModule(Refused):
    """The pickle names a module that is not installed here (nothing was imported to find out)."""

    def __init__(self, module):
        super().__init__(module)
        self.module = module


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
        self.check_size(raw, count)
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

    def check_size(self, raw, count):
        """An array's data holds its shape's worth of bytes: a shape never makes more items than the data has."""
        if count > MAX_ITEMS:
            raise Refused(f"a numpy array of {count} items: more than the {MAX_ITEMS} this reader takes")
        needed = count * self.size * (4 if self.kind == "U" else 1)
        if self.kind != "O" and len(raw) < needed:
            raise pickle.UnpicklingError(f"numpy array data holds {len(raw)} bytes, its shape needs {needed}")


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
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise pickle.UnpicklingError(f"numpy array shape {shape!r} is not a tuple of sizes")
        count *= n
        if count > MAX_ITEMS:
            raise Refused(f"a numpy array of shape {tuple(shape)!r}: more than the {MAX_ITEMS} items this reader takes")
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


def _latin1(text, encoding="latin1"):
    """``_codecs.encode`` as protocols 0-2 pickle bytes with it, and for nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise Refused("_codecs.encode is allowed only as pickle writes bytes (a str, 'latin1')")
    return codecs.encode(text, "latin1")


def _sized(kind):
    """``bytes``/``bytearray`` as pickle calls them (of bytes, never of a size: ``bytes(10**10)`` is 10 GB)."""
    def make(*args):
        if any(isinstance(arg, int) for arg in args):
            raise Refused(f"{kind.__name__}(<a size>) is not how pickle writes {kind.__name__}")
        return kind(*args)
    return make


_ALLOWED = {("builtins", name): getattr(builtins, name)
            for name in ("dict", "list", "tuple", "set", "frozenset", "str", "int", "float", "complex", "bool")}
_ALLOWED.update({("builtins", "bytes"): _sized(bytes), ("builtins", "bytearray"): _sized(bytearray),
                 ("collections", "OrderedDict"): collections.OrderedDict, ("_codecs", "encode"): _latin1})


class Unpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only the allow-list and numpy's stand-ins; imports nothing."""

    def find_class(self, module, name):
        # protocols 0-2 name Python 2's modules (__builtin__, copy_reg): mapped as pickle's own find_class does
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        found = _STAND_INS.get((module, name)) or _ALLOWED.get((module, name))
        if found is not None:
            return found
        if module == "numpy" or module.startswith("numpy."):
            raise UnsupportedNumpy(f"{module}.{name} is not one the numpy-free reader stands in for")
        top = module.split(".")[0]
        try:
            installed = importlib.util.find_spec(top) is not None  # finds, never imports, a top-level name
        except (ImportError, ValueError):
            installed = False
        if not installed:
            raise MissingModule(top)
        raise Refused(f"the pickle calls {module}.{name}, which a dataset info file never holds; "
                      "inspect reads only builtin containers and numpy arrays, and never runs a file's code")


def _expanded(value, depth, sizes):
    """How many items ``value`` is as a tree (shared references counted each time); Refused past the bounds."""
    key = id(value)
    if key in sizes:
        return sizes[key]
    if depth > MAX_DEPTH:
        raise Refused(f"nested deeper than {MAX_DEPTH} levels: not a dataset info file")
    if isinstance(value, Array):
        children = (value.value,)
    elif isinstance(value, dict):
        children = [item for pair in value.items() for item in pair]
    elif isinstance(value, (list, tuple, set, frozenset)):
        children = value
    else:
        children = ()
    total = 1
    for child in children:
        total += _expanded(child, depth + 1, sizes)
        if total > MAX_ITEMS:
            raise Refused(f"expands to more than {MAX_ITEMS} items (shared references): not a dataset info file")
    sizes[key] = total
    return total


def plain(value, _done=None):
    """``value`` with every array stand-in replaced by its nested list (tuples stay tuples, sharing kept)."""
    done = {} if _done is None else _done
    key = id(value)
    if key in done:
        return done[key]
    if isinstance(value, Array):
        result = plain(value.value, done)
    elif isinstance(value, dict):
        result = {plain(k, done): plain(v, done) for k, v in value.items()}
    elif isinstance(value, list):
        result = [plain(v, done) for v in value]
    elif isinstance(value, tuple):
        result = tuple(plain(v, done) for v in value)
    else:
        return value
    done[key] = result
    return result


def load(handle):
    """Unpickle an open binary file without numpy and without running its code; arrays come back as lists."""
    value = Unpickler(handle).load()
    _expanded(value, 0, {})
    return plain(value)
