"""The exported handler, served on this machine as Lambda would run it.

`local_function()` lays out a task root like the container image's `/var/task`
(the handler script as `lambda_function.py`, the model next to it), then
serves it with the real Runtime Interface Emulator from one of the
TensorFlow-free Lambda environments.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from serverless_dl.envs import lambda_python
from serverless_dl.paths import DOCKER, MODELS
from serverless_dl.rie import LambdaEmulator

HANDLER = "lambda_function.lambda_handler"
MODEL_FILE = "clothing-model.tflite"
# The handler refuses URLs that resolve to loopback addresses (SSRF guard).
# Local tests serve images from 127.0.0.1, so they must opt in explicitly.
ALLOW_LOOPBACK = {"ALLOW_LOOPBACK_URLS": "1"}


def make_task_root(
    target: Path,
    handler_script: Path = DOCKER / "lambda_function.py",
    model: Path = MODELS / MODEL_FILE,
) -> Path:
    """Copy the handler and the model into `target` with the names the image uses."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(handler_script, target / "lambda_function.py")
    shutil.copyfile(model, target / MODEL_FILE)
    return target


@contextlib.contextmanager
def local_function(
    flavour: str = "classic",
    handler_script: Path = DOCKER / "lambda_function.py",
    model: Path = MODELS / MODEL_FILE,
    *,
    allow_loopback: bool = True,
    environment: dict[str, str] | None = None,
    timeout: float = 30,
    memory_mb: int = 1024,
) -> Iterator[LambdaEmulator]:
    """Serve the handler under the RIE from the `flavour` Lambda environment.

    Yields the running `LambdaEmulator`; its `url` is the invoke URL.
    """
    env = dict(ALLOW_LOOPBACK if allow_loopback else {})
    env.update(environment or {})
    with tempfile.TemporaryDirectory(prefix="task-root-") as folder:
        task_root = make_task_root(Path(folder), Path(handler_script), Path(model))
        with LambdaEmulator(
            HANDLER,
            task_root,
            lambda_python(flavour),
            environment=env,
            timeout=timeout,
            memory_mb=memory_mb,
        ) as function:
            yield function
