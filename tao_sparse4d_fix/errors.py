"""The one base of every error the plugin raises on purpose, and the one a command raises to refuse or fail.

Each error keeps its builtin base as well (``InvalidMode`` is a ``ValueError``,
``UnsupportedTaoCode`` an ``ImportError``), so a caller's ``except`` of the builtin
still works. ``commands/cli.py`` prints a ``CommandError`` once, as
``tao-sparse4d-fix COMMAND: error: MESSAGE``, and exits with ``status``; anything
else a command raises is an internal error, told in one line with its own status,
so a crash is never read as a verdict. Standard library only: start-up code
(``switches``) raises ``InvalidSwitch`` from here.
"""

INTERNAL_ERROR = 3  # inspect's 0/1/2 are verdicts and bad input; this is neither


class PluginError(Exception):
    """An error of the plugin's own: ``str()`` is the whole message, ``status`` the exit status it stands for."""

    status = 1

    def __init__(self, *args, status=None):
        super().__init__(*args)
        if status is not None:
            self.status = status


class CommandError(PluginError):
    """A refusal or failure a command tells the user (printed once by ``commands/cli.py``)."""

    def __init__(self, message, status=None):
        super().__init__(message, status=status)


class InvalidSwitch(PluginError, ImportError):
    """An environment variable holds a value that is not one of its valid values (see ``switches``)."""
