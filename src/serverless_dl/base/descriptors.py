"""Send what a process writes to its standard output or error somewhere else, for a while.

Native libraries (TensorFlow's start-up notices, LiteRT's delegate line) and
child processes (notebook kernels) write to the file descriptors themselves,
not to `sys.stdout` or `sys.stderr`, so only redirecting the descriptors
keeps their chatter out of a terminal or a notebook cell.

Typical use::

    with descriptors_to(os.devnull):           # silence descriptor 2
        import tensorflow
    with descriptors_to("run.log", (1, 2)):    # this process and its children
        subprocess.run([...])
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def descriptors_to(path: str | Path, descriptors: tuple[int, ...] = (2,)) -> Iterator[None]:
    """Append what is written to `descriptors` (by this process or any it starts) to `path`.

    The descriptors are restored on leaving, whatever happened inside.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(descriptor) for descriptor in descriptors]
    try:
        with open(path, "ab") as target:
            for descriptor in descriptors:
                os.dup2(target.fileno(), descriptor)
            yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for descriptor, copy in zip(descriptors, saved, strict=True):
            os.dup2(copy, descriptor)
            os.close(copy)
