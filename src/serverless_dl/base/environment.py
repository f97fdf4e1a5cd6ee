"""Version checks printed at the top of every lesson.

A lesson that runs with other versions than the ones it was written for may
still work, but its numbers can differ; saying so up front saves a learner an
hour of wondering why a file size or a score is not what the text says.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata

from serverless_dl.base.descriptors import descriptors_to

MINIMUM_PYTHON = (3, 11)

# TensorFlow's C++ logging goes to stderr before Python can filter it; this must
# be set before TensorFlow is imported, which is why lessons import this module first.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


TENSORFLOW_DISTRIBUTIONS = ("tensorflow-cpu", "tensorflow", "keras")


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with the process's standard error closed for the duration.

    TensorFlow's C++ start-up notices ("oneDNN custom operations are on", "All log
    messages before absl::InitializeLog() ...") are written to file descriptor 2 before
    TF_CPP_MIN_LOG_LEVEL applies, so they would land in whichever notebook cell first
    imports TensorFlow, at unreliable moments. Importing it here, once, keeps them out.
    """
    if "tensorflow" in sys.modules:
        return
    with descriptors_to(os.devnull):
        import tensorflow  # noqa: F401


def check_versions(*distributions: str) -> None:
    """Print the Python version and the installed versions of `distributions`.

    Fails with a clear message when Python is older than the course needs or a
    distribution is missing. When TensorFlow or Keras is among them, TensorFlow is
    imported here, quietly (see `import_tensorflow_quietly`).
    """
    if sys.version_info < MINIMUM_PYTHON:
        wanted = ".".join(map(str, MINIMUM_PYTHON))
        raise RuntimeError(f"this course needs Python >= {wanted}, not {sys.version.split()[0]}")
    # The minor version is what a lesson depends on; patch releases differ between machines.
    found = {"python": ".".join(map(str, sys.version_info[:2]))}
    missing = []
    for name in distributions:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        raise RuntimeError(f"not installed: {', '.join(missing)}; run `make setup`")
    if any(name in TENSORFLOW_DISTRIBUTIONS for name in distributions):
        import_tensorflow_quietly()
    width = max(map(len, found))
    for name, version in found.items():
        print(f"{name:<{width}}  {version}")
