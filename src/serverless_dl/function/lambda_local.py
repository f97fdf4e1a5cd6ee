"""The exported function, served on this machine as Lambda would run it.

`local_function()` lays out a task root like the container image's `/var/task`
(the handler script as `lambda_function.py`, the guarded `image_source.py` it
imports, the model next to them), then serves it with the real Runtime
Interface Emulator from one of the TensorFlow-free Lambda environments.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from serverless_dl.base.lambda_facts import ALLOW_LOOPBACK
from serverless_dl.base.paths import DOCKER, MODELS
from serverless_dl.function.envs import lambda_python
from serverless_dl.function.rie import LambdaEmulator

HANDLER = "lambda_function.lambda_handler"
MODEL_FILE = "clothing-model.tflite"
IMAGE_SOURCE_FILE = "image_source.py"


def make_task_root(
    target: Path,
    handler_script: Path = DOCKER / "lambda_function.py",
    model: Path = MODELS / MODEL_FILE,
    image_source: Path | None = None,
) -> Path:
    """Copy the handler, its image_source module and the model into `target`, named as in the image.

    `image_source` defaults to the `image_source.py` next to `handler_script`
    (both are exported to `docker/`). The model keeps its format's suffix:
    `clothing-model.tflite`, or `clothing-model.onnx` for lesson 03's ONNX handler.
    """
    handler_script = Path(handler_script)
    image_source = Path(image_source or handler_script.with_name(IMAGE_SOURCE_FILE))
    if not image_source.is_file():
        raise FileNotFoundError(
            f"{image_source} does not exist: the handler imports it (`make export` writes it)"
        )
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(handler_script, target / "lambda_function.py")
    shutil.copyfile(image_source, target / IMAGE_SOURCE_FILE)
    shutil.copyfile(model, (target / MODEL_FILE).with_suffix(Path(model).suffix))
    return target


@contextlib.contextmanager
def local_function(
    flavour: str = "classic",
    handler_script: Path = DOCKER / "lambda_function.py",
    model: Path = MODELS / MODEL_FILE,
    *,
    image_source: Path | None = None,
    allow_loopback: bool = True,
    environment: dict[str, str] | None = None,
    timeout: float = 30,
    memory_mb: int = 1024,
) -> Iterator[LambdaEmulator]:
    """Serve the handler under the RIE from the `flavour` Lambda environment.

    `image_source` defaults to the `image_source.py` next to `handler_script`.
    Yields the running `LambdaEmulator`; its `url` is the invoke URL.
    """
    env = dict(ALLOW_LOOPBACK if allow_loopback else {})
    env.update(environment or {})
    with tempfile.TemporaryDirectory(prefix="task-root-") as folder:
        task_root = make_task_root(Path(folder), Path(handler_script), Path(model), image_source)
        with LambdaEmulator(
            HANDLER,
            task_root,
            lambda_python(flavour),
            environment=env,
            timeout=timeout,
            memory_mb=memory_mb,
        ) as function:
            yield function
