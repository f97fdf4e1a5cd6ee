"""Set environment variables for the length of a `with` block, then put back what was there.

Lessons, tests and the course's runners change `os.environ` for a while (a
certificate to trust, a ledger for child processes, a handler's settings)
and must leave it as they found it, whether the block succeeds or fails.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping


def set_variable(name: str, value: str | None) -> None:
    """Set `name` to `value` in `os.environ`, or remove it when `value` is None."""
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@contextlib.contextmanager
def changed_environment(settings: Mapping[str, str | None]) -> Iterator[None]:
    """Apply `settings` to `os.environ` (None removes a variable) inside the block only.

    On leaving, each named variable gets back its earlier value, or is removed
    again if it was not set.
    """
    saved = {name: os.environ.get(name) for name in settings}
    try:
        for name, value in settings.items():
            set_variable(name, value)
        yield
    finally:
        for name, value in saved.items():
            set_variable(name, value)
