"""Any value of ``TAO_SPARSE4D_FIX`` must leave a plain interpreter start clean.

For every value: the child exits 0 with empty stdout and stderr, and it carries
the sentinel exactly when the value is not an off value (the oracle below
classifies like ``switches.read_enable``). Values come from hypothesis when it
is installed, otherwise from a seeded generator of the same kinds of text.
Environment variables cannot hold NUL, and text values cannot hold lone
surrogates (they have no bytes); raw bytes, invalid UTF-8 included, are fuzzed
separately. A single variable is limited to 128 KiB by Linux (MAX_ARG_STRLEN).
"""
import os
import random

import pytest

try:
    if os.environ.get("TSF_TEST_STARTUP_NO_HYPOTHESIS"):
        raise ImportError("disabled")
    from hypothesis import HealthCheck, example, given, settings
    from hypothesis import strategies as st
except ImportError:
    st = None

EXAMPLES = 100
LONG = 100_000  # bytes: under MAX_ARG_STRLEN (131072) with the name
NAME = "TAO_SPARSE4D_FIX"
# Prints the sentinel count only: the start-up itself is that of `python -c pass`.
CODE = "import sys; sys.stdout.write(str(sum(type(f).__name__ == '_FirstTaoImport' for f in sys.meta_path)))"
MARK = "pwned_by_env"
SHELLISH = ["$(touch %s)" % MARK, "`touch %s`" % MARK, "'; touch %s; '" % MARK, '"; touch %s; "' % MARK,
            "1; touch %s" % MARK, "\\\\\\", "\\n", "\\x00", "%(foo)s", "{0}", "\"'", "__import__('os').system('touch %s')" % MARK]
SPECIAL = " \t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u3000\"'\\;$()`|&<>*?!#~{}[]%=,"
WORDS = ["1", "0", "true", "false", "on", "off", "TRUE", "Off", "yes", "no", "None", "null", "-1", "1.0", "İ", "ß", "ǅ"]


def expected_sentinels(value):
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    return 0 if value.strip().lower() in ("", "0", "false", "off") else 1


def check(children, value):
    proc = children.run(CODE, value)
    shown = repr(value[:200]) + ("..." if len(value) > 200 else "")
    assert proc.returncode == 0, (shown, proc.stderr)
    assert proc.stderr == b"", (shown, proc.stderr)
    assert proc.stdout == str(expected_sentinels(value)).encode(), (shown, proc.stdout)


def seeded_values(seed=20240601, n=EXAMPLES):
    rng = random.Random(seed)

    def text(k):
        pools = [SPECIAL, "".join(map(chr, range(1, 128))), "".join(chr(rng.randrange(0x80, 0xD800)) for _ in range(64)),
                 "".join(chr(rng.randrange(0xE000, 0x110000)) for _ in range(64))]
        return "".join(rng.choice(rng.choice(pools)) for _ in range(k))

    values = list(SHELLISH) + [LONG * "x", (LONG // 4) * "\U0001F600", " " * 1000 + "off" + "\t" * 1000]
    while len(values) < n:
        kind = rng.randrange(4)
        if kind == 0:
            values.append(text(rng.randrange(0, 40)))
        elif kind == 1:
            values.append(text(rng.randrange(0, 3)) + rng.choice(WORDS) + text(rng.randrange(0, 3)))
        elif kind == 2:
            values.append(bytes(rng.randrange(1, 256) for _ in range(rng.randrange(0, 40))))
        else:
            values.append(text(rng.randrange(1, 4)) * rng.randrange(100, 5000))
    return values


@pytest.fixture()
def clean_cwd(children):
    before = set(os.listdir(children.cwd))
    yield
    assert set(os.listdir(children.cwd)) == before, "a value ran as a command"


if st is not None:
    text_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
    env_text = st.one_of(
        st.text(text_chars, max_size=64),
        st.text(st.sampled_from(SPECIAL), max_size=32),
        st.builds(lambda a, w, b: a + w + b, st.text(st.sampled_from(SPECIAL), max_size=3), st.sampled_from(WORDS),
                  st.text(st.sampled_from(SPECIAL), max_size=3)),
        st.builds(lambda s, n: (s * n)[: LONG // 4], st.text(text_chars, min_size=1, max_size=8), st.integers(100, 30_000)),
        st.sampled_from(SHELLISH),
    )
    env_bytes = st.binary(max_size=64).map(lambda b: b.replace(b"\0", b""))

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(value=st.one_of(env_text, env_bytes))
    @example(value=LONG * "x")
    @example(value=(LONG // 4) * "\U0001F600")
    @example(value=b"\xff\xfe off \x80")
    @example(value=" " * 1000 + "off" + "\t" * 1000)
    @example(value="$(touch %s)" % MARK)
    @example(value="\u2028on\u3000")
    def test_any_value_starts_cleanly(children, clean_cwd, value):
        check(children, value)

else:

    @pytest.mark.parametrize("value", seeded_values(), ids=lambda v: repr(v[:20]))
    def test_any_value_starts_cleanly(children, clean_cwd, value):
        check(children, value)
