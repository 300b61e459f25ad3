"""The one exception type the harness shows to its users.

Every mistake a user can make (a missing file, a checkpoint that does not fit, an LR of the wrong
size) is raised as :class:`HarnessError` with a single line naming the file or value and the fix.
The entry points print that line and exit with status 2; anything else is a bug in the harness
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import re
from typing import Any, NoReturn


class HarnessError(Exception):
    """A user-facing error: its message is one line that says what is wrong and what to do."""


_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_TERMINAL_CODES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])"
                             r"|\x9b[0-?]*[ -/]*[@-~]")
"""ANSI escape sequences (colours, cursor moves, window titles): what a library's or a team's coloured message holds."""


def plain(text: str) -> str:
    """``text`` without terminal escape sequences: a captured third-party message (an exporter's coloured
    ``This is step 1/3``) is shown as its words, and a hostile one cannot move the cursor or retitle the window."""
    return _TERMINAL_CODES.sub("", text)


def one_line(text: object) -> str:
    """``text`` on one line, whatever it holds: terminal escape sequences are dropped (:func:`plain`), and a line
    break or any other control character inside a name or path from a user's file is shown escaped (``\\n``), so the
    line is never split or mistaken for two."""
    return "".join(repr(c)[1:-1] if c in _LINE_BREAKS or (not c.isprintable() and c != "\t") else c
                   for c in plain(str(text)))


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
