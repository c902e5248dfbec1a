"""Run one ``tao-sparse4d-fix`` command with a fault injected at its N-th file operation.

    HOST_PYTHON inject.py MODE N REPORT -- COMMAND ARGS...

Run by tests/faults in the host venv (the real nvidia-tao launcher, the plugin
installed). It wraps the ``os`` functions that change files (``open`` for
writing, ``write``, ``fsync``, ``fchmod``, ``fchown``, ``chmod``, ``replace``,
``rename``, ``link``, ``symlink``, ``remove``, ``unlink``, ``rmdir``,
``mkdir``) and counts the calls made while the command holds its lock
(``UserFiles.locked``: every change to a user file and to the state). MODE:

* ``count``: no fault; REPORT gets the calls' names, one a line;
* ``crash``: at call N the process dies at once, as under ``kill -9``
  (``os._exit(137)``: no ``finally``, no clean-up); a ``write`` puts half its
  bytes first, so a torn file is what a reader would find;
* ``fail``: call N raises ``OSError(EIO)``;
* ``deny``: every call on a path under N (a folder, here a path) raises
  ``PermissionError``: a folder we may not write, even as root.

``bundle`` is built once for real by the test; here its build is skipped
(``bundle.build`` is replaced), so the faults fall on the mounts file.
"""
import contextlib
import errno
import os
import sys

OPS = ("open", "write", "fsync", "fchmod", "fchown", "chmod", "replace", "rename", "link", "symlink",
       "remove", "unlink", "rmdir", "mkdir")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT


def main(argv):
    mode, where, report = argv[1], argv[2], argv[3]
    command = argv[argv.index("--") + 1:]
    from tao_sparse4d_fix.commands import cli
    from tao_sparse4d_fix.host import bundle, userfiles

    calls, active = [], [False]

    def wrap(name, real):
        def operation(*args, **kwargs):
            if not active[0] or (name == "open" and not args[1] & WRITE_FLAGS):
                return real(*args, **kwargs)
            if mode == "deny":
                paths = [a for a in args[:2] if isinstance(a, (str, os.PathLike))]
                if any(os.path.abspath(p).startswith(where.rstrip("/") + "/") for p in paths):
                    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(paths[0]))
                return real(*args, **kwargs)
            calls.append(name)
            if len(calls) == int(where) and mode == "crash":
                if name == "write":
                    real(args[0], bytes(args[1])[: max(1, len(args[1]) // 2)])
                os._exit(137)
            if len(calls) == int(where) and mode == "fail":
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            return real(*args, **kwargs)
        return operation

    for name in OPS:
        setattr(os, name, wrap(name, getattr(os, name)))
    real_locked = userfiles.UserFiles.locked

    @contextlib.contextmanager
    def locked(self):
        active[0] = True
        try:
            with real_locked(self):
                yield self
        finally:
            active[0] = False

    userfiles.UserFiles.locked = locked
    if os.path.isfile(os.path.join(command[1] if len(command) > 1 else "", bundle.MARKER)):
        bundle.build = lambda *args: None
    try:
        status = cli.main(command)
    finally:
        with open(report, "w") as out:
            out.write("".join(f"{name}\n" for name in calls))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
