"""Opening a file the user names: a regular file only, of bounded size, never a blocking open.

``/dev/zero`` would be read without end and a FIFO with no writer blocks
``open`` for good; so the file is opened with ``O_NONBLOCK`` (which a regular
file ignores) and its kind and size are checked on the open descriptor.
"""
import os
import stat

from tao_sparse4d_fix.host.inspect.problems import BadInput

MB = 1 << 20


def open_regular(path, limit):
    """A binary file object of the regular file at ``path`` (at most ``limit`` bytes), or ``BadInput``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise BadInput(path, "no such file") from None
    except OSError as error:
        raise BadInput(path, f"cannot read: {error.strerror or error}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise BadInput(path, "cannot read: Is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(path, "not a regular file (a FIFO, socket or device): give the file itself")
        if info.st_size > limit:
            raise BadInput(path, f"{info.st_size} bytes: larger than the {limit // MB} MB this reader takes")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
