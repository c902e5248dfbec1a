"""The one exception a command raises to refuse or fail: a one-line message and the exit status.

``commands/cli.py`` prints it once, as ``tao-sparse4d-fix COMMAND: error: MESSAGE``,
and exits with ``status``; anything else a command raises is an internal error,
told in one line with its own status, so a crash is never read as a verdict.
"""

INTERNAL_ERROR = 3  # inspect's 0/1/2 are verdicts and bad input; this is neither


class CommandError(Exception):
    """A refusal or failure told to the user; ``str()`` is the whole message, ``status`` the exit status."""

    status = 1

    def __init__(self, message, status=None):
        super().__init__(message)
        if status is not None:
            self.status = status
