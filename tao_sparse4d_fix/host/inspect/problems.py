"""Bad input: one line naming the file and what is wrong; the command exits with status 2."""
from tao_sparse4d_fix.errors import CommandError

BAD_INPUT = 2


class BadInput(CommandError):
    """``str()`` is the whole message: ``FILE: what is wrong``."""

    def __init__(self, path, what):
        super().__init__(f"{path}: {what}", BAD_INPUT)
        self.path = path
        self.what = what


def short(value, limit=40):
    """``repr`` of a value, cut to ``limit`` characters (for messages)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
