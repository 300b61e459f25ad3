"""The one exception type the harness shows to its users.

Every mistake a user can make (a missing file, a checkpoint that does not fit, an LR of the wrong
size) is raised as :class:`HarnessError` with a single line naming the file or value and the fix.
The entry points print that line and exit with status 2; anything else is a bug in the harness
and keeps its traceback.
"""


class HarnessError(Exception):
    """A user-facing error: its message is one line that says what is wrong and what to do."""
