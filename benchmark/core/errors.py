"""The one exception type the harness shows to its users.

Every mistake a user can make (a missing file, a checkpoint that does not fit, an LR of the wrong
size) is raised as :class:`HarnessError` with a single line naming the file or value and the fix.
The entry points print that line and exit with status 2; anything else is a bug in the harness
and keeps its traceback.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn


class HarnessError(Exception):
    """A user-facing error: its message is one line that says what is wrong and what to do."""


_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def one_line(text: object) -> str:
    """``text`` on one line, whatever it holds: a line break inside a name or path from a user's file is shown
    escaped (``\\n``), so the line is never split or mistaken for two."""
    return "".join(repr(c)[1:-1] if c in _LINE_BREAKS else c for c in str(text))


def error_line(err: BaseException | str) -> str:
    """``error: <message>`` on one line (:func:`one_line`)."""
    return f"error: {one_line(err)}"


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose mistakes are HarnessErrors naming the option and the fix, so that the entry
    point prints them as every other user mistake (one ``error:`` line, exit status 2), not the usage block."""

    def error(self, message: str) -> NoReturn:
        raise HarnessError(f"{message}; see {self.prog} --help")


def shown(value: Any, limit: int = 40) -> str:
    """``repr(value)`` of a value read from a user's file, on one line and at most ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"
