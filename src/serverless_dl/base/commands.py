"""Run a command and, when it fails, raise an error that quotes the end of its output.

The course drives many command-line tools (docker, sam, pip, converters in
other environments). A failure should say, in one line, which command failed
and the last lines it printed, never a bare exit code; this module is the one
place that formats that line.

Typical use::

    result = run_command(["sam", "validate", "--lint"], error=SamError, what="`sam validate`")
    print(result.stdout)
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from typing import Literal


class CommandFailed(RuntimeError):
    """A command exited with a non-zero code; the message quotes the end of its output."""


def last_lines(text: str, count: int = 4, separator: str = " | ") -> str:
    """The last `count` lines of `text`, stripped and joined on one line with `separator`."""
    return separator.join(text.strip().splitlines()[-count:])


def run_command(
    command: Sequence[object],
    *,
    error: Callable[[str], Exception] = CommandFailed,
    what: str | None = None,
    quote: Literal["stderr", "both"] = "stderr",
    lines: int = 4,
    capture: bool = True,
    check: bool = True,
    **run_options,
) -> subprocess.CompletedProcess[str]:
    """Run `command` with text output and return the finished process.

    With `check` a non-zero exit raises `error` with "WHAT failed with exit code
    N: LAST | LINES", where WHAT defaults to the command in backticks and the
    last `lines` lines come from stderr (`quote="stderr"`) or from stdout then
    stderr (`quote="both"`). `capture=False` lets the output through to the
    terminal (a long build), and the message then points there. Other keyword
    arguments (`cwd`, `env`, `input`, `timeout`, ...) go to `subprocess.run`.
    """
    arguments = [str(part) for part in command]
    result = subprocess.run(arguments, capture_output=capture, text=True, **run_options)
    if check and result.returncode != 0:
        if not capture:
            tail = "(see output above)"
        elif quote == "both":
            tail = last_lines(result.stdout + result.stderr, lines)
        else:
            tail = last_lines(result.stderr or "", lines)
        described = what or f"`{' '.join(arguments)}`"
        raise error(f"{described} failed with exit code {result.returncode}: {tail}")
    return result
