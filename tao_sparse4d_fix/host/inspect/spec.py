"""The decoder's output cap, ``model.head.num_output``: from ``-e SPEC``, ``--num-output`` or the default.

PyYAML reads the spec where it is importable; otherwise a minimal reader
finds that one key in block-style YAML (nested mappings by indentation,
comments, quotes, sequences and block scalars skipped). A spec it cannot read
that way (a flow mapping such as ``head: {num_output: 128}`` on the key's
path, an alias, a merge key) is refused with a hint, never guessed.
"""
import re

from tao_sparse4d_fix.host.inspect.problems import BadInput, short
from tao_sparse4d_fix.host.inspect.source import MB, open_regular
from tao_sparse4d_fix.host.inspect.thresholds import DEFAULT_NUM_OUTPUT

KEY = ("model", "head", "num_output")
DOTTED = ".".join(KEY)
MAX_SPEC_BYTES = 16 * MB  # a TAO spec is a few kB


def resolve(spec_path=None, option=None, use_pyyaml=True):
    """``(num_output, "spec" | "option" | "default")``; ``BadInput`` for a bad spec or option."""
    if spec_path is not None and option is not None:
        raise BadInput("--num-output", f"give either -e SPEC or --num-output, not both (got -e {spec_path})")
    if option is not None:
        return _positive(option, "--num-output", None), "option"
    if spec_path is None:
        return DEFAULT_NUM_OUTPUT, "default"
    try:
        with open_regular(spec_path, MAX_SPEC_BYTES) as handle:
            text = handle.read().decode("utf-8")
    except OSError as error:
        raise BadInput(spec_path, f"cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise BadInput(spec_path, "not YAML (not UTF-8 text)") from None
    yaml = _pyyaml() if use_pyyaml else None
    found, value = _with_pyyaml(yaml, spec_path, text) if yaml else _minimal(spec_path, text)
    if not found:
        return DEFAULT_NUM_OUTPUT, "spec"
    return _positive(value, spec_path, DOTTED), "spec"


def _positive(value, path, name):
    given = value
    if isinstance(value, str):
        text = value.strip()
        value = int(text) if re.fullmatch(r"[+]?[0-9]+", text) else value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadInput(path, f"{name + ' is ' if name else ''}not a positive integer (got {short(given)})")
    return value


def _pyyaml():
    try:
        import yaml
    except ImportError:
        return None
    return yaml


def _with_pyyaml(yaml, path, text):
    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise BadInput(path, "not YAML this reader takes (nested too deep)") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise BadInput(path, f"not YAML{where}") from None
    node = data
    for depth, key in enumerate(KEY):
        if node is None:
            return False, None
        if not isinstance(node, dict):
            prefix = ".".join(KEY[:depth]) or "the spec"
            raise BadInput(path, f"{prefix} is not a mapping")
        if key not in node:
            return False, None
        node = node[key]
    return True, node


_LINE = re.compile(r"^(?P<indent> *)(?P<dash>- +)?(?P<key>[^\s#'\"][^:#]*?|'[^']*'|\"[^\"]*\") *:(?: +(?P<value>.*?))? *$")


def _minimal(path, text):
    """``(found, value)`` of model.head.num_output in block-style YAML; the last occurrence wins, as in PyYAML."""
    stack = []  # [(indent, key)] of the mappings that enclose the current line
    found, value = False, None
    block_indent = None  # inside a block scalar (| or >) whose key sits at this indent
    last_indent = -1  # indent of the last key line: deeper lines without a key continue its value
    for number, line in enumerate(text.splitlines(), 1):
        stripped = _strip_comment(line).rstrip()
        content = stripped.strip()
        if not content or content in ("---", "...") or content.startswith("%"):
            continue
        indent = len(stripped) - len(stripped.lstrip(" "))
        if block_indent is not None:
            if indent > block_indent:
                continue
            block_indent = None
        if stripped[indent] == "\t":
            raise BadInput(path, f"not YAML (line {number}: tab indentation)")
        if indent == 0 and (content.startswith("- ") or content == "-"):
            raise BadInput(path, "the spec is not a mapping")
        match = _LINE.match(stripped)
        if not match:
            if content.startswith("-") or indent > last_indent:
                continue  # a plain sequence item, or a continuation line: nothing of ours
            raise BadInput(path, f"line {number}: not YAML this reader understands; "
                                 "install PyYAML or pass --num-output instead of -e")
        key = match.group("key").strip()
        if len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"":
            key = key[1:-1]
        raw = (match.group("value") or "").strip()
        if match.group("dash"):
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, "-"))
            indent += len(match.group("dash"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        last_indent = indent
        parent = tuple(k for _, k in stack)
        here = parent + (key,)
        if re.fullmatch(r"&\S+", raw):
            raw = ""  # an anchor on a mapping: its children follow as usual
        if raw == "{}":
            continue  # an empty mapping: nothing below it
        encloses_ours = parent == KEY[:len(parent)] and len(parent) < len(KEY)
        if encloses_ours and (key == "<<" or (here == KEY[:len(here)] and raw.startswith(("{", "*", "&", "!")))):
            raise BadInput(path, f"line {number}: reading {DOTTED} here needs PyYAML (a flow mapping, "
                                 "anchor, alias, tag or merge key); install PyYAML or pass --num-output")
        if re.fullmatch(r"[|>][-+0-9]*", raw):
            block_indent = indent
        elif here == KEY:
            found, value = True, _scalar(raw)
        elif not raw:
            stack.append((indent, key))
    return found, value


def _strip_comment(line):
    quote = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _scalar(raw):
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]  # quoted: a string, refused as not an integer
    if raw in ("", "~", "null", "Null", "NULL"):
        return None
    if re.fullmatch(r"[-+]?[0-9]+", raw):
        return int(raw)
    return raw
