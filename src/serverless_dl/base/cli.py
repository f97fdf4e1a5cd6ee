"""Command-line conventions shared by the course's tools: one-line errors and value checkers.

The checkers are `type=` functions for argparse: each turns the text into a
value or raises `argparse.ArgumentTypeError` with a message that names the
text and what was expected, which `OneLineErrorParser` prints on one line.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import NoReturn, TypeVar

Number = TypeVar("Number", int, float)


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are a single line, without the usage block."""

    def error(self, message: str) -> NoReturn:
        """Exit with code 2 and `message` on one line, pointing to --help."""
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _checked(
    text: str, convert: Callable[[str], Number], accept: Callable[[Number], bool], expected: str
) -> Number:
    """`convert(text)` if that works and `accept` takes the value; else a usage error."""
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not accept(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not {expected}")
    return value


def positive_whole_number(text: str) -> int:
    """A whole number of at least 1 (a count of runs, say)."""
    return _checked(text, int, lambda value: value >= 1, "a positive whole number")


def whole_number_from_zero(text: str) -> int:
    """A whole number of at least 0 (a seed, a count that may be zero)."""
    return _checked(text, int, lambda value: value >= 0, "a whole number >= 0")


def positive_number(text: str) -> float:
    """A number greater than 0 (a time limit in seconds, say)."""
    return _checked(text, float, lambda value: value > 0, "a positive number")


def percentage(text: str) -> float:
    """A finite percentage, 0 or more (growth may exceed 100 %)."""
    expected = "a percentage (a number >= 0)"
    return _checked(text, float, lambda value: 0 <= value < math.inf, expected)
