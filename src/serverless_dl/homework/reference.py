"""The reference pipeline the grader computes every expected answer with.

Nothing here imports TensorFlow: the homework model is converted to
TensorFlow Lite once, in a child process (`serverless_dl.homework.convert`),
and cached under `build/homework/grader/`, keyed by the model file's hash and
the TensorFlow version. Everything else (the file size, the tensor indices,
preprocessing, predictions) is computed from that file with LiteRT, Pillow
and NumPy, as a TensorFlow-free Lambda function would, in milliseconds.

The answers about the handler's API come from the course's guarded handler
itself (`docker/lambda_function.py` with the `image_source.py` it imports),
called in this process: whatever it answers is, by definition, the right answer.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import functools
import hashlib
import io
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image

from serverless_dl.base.descriptors import descriptors_to
from serverless_dl.base.paths import BUILD, HOMEWORK
from serverless_dl.data.dataset import load_image
from serverless_dl.function.handler_modules import HANDLER_SCRIPT as LESSON_HANDLER
from serverless_dl.function.handler_modules import load_function

HOMEWORK_MODEL = HOMEWORK / "homework-model.keras"
POOL_DIR = HOMEWORK / "images"
CACHE = BUILD / "homework" / "grader"
CONVERT_SECONDS = 600


class ReferenceUnavailable(RuntimeError):
    """The reference answers cannot be computed here; the message says why in one line."""


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence what native code writes to file descriptor 2 (LiteRT's "Created ... delegate")."""
    with descriptors_to(os.devnull):
        yield


def converter_versions() -> str:
    """The installed TensorFlow's and Keras's versions, read without importing them."""
    for name in ("tensorflow-cpu", "tensorflow"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            keras = metadata.version("keras")
            return f"tf{metadata.version(name)}-keras{keras}"
    raise ReferenceUnavailable(
        "TensorFlow is needed once to convert the homework model; run `make setup`"
    )


def reference_tflite(keras_model: Path = HOMEWORK_MODEL) -> Path:
    """The homework model as TensorFlow Lite, converted once per model file and TF version.

    The conversion is deterministic, so a cached file is what a learner's conversion
    with the same versions gives, byte for byte.
    """
    if not keras_model.is_file():
        raise ReferenceUnavailable(f"{keras_model} is missing; run `make homework-model`")
    digest = hashlib.sha256(keras_model.read_bytes()).hexdigest()[:16]
    target = CACHE / f"{digest}-{converter_versions()}" / "homework-model.tflite"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # One conversion at a time: parallel graders wait for the first instead of converting too.
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():
            return target
        command = [sys.executable, "-m", "serverless_dl.homework.convert", keras_model, target]
        try:
            run = subprocess.run(
                list(map(str, command)), capture_output=True, text=True, timeout=CONVERT_SECONDS
            )
        except subprocess.TimeoutExpired:
            raise ReferenceUnavailable(
                f"converting {keras_model.name} took longer than {CONVERT_SECONDS} s"
            ) from None
        if run.returncode != 0 or not target.is_file():
            last = (run.stderr.strip().splitlines() or ["no output"])[-1]
            raise ReferenceUnavailable(f"converting {keras_model.name} failed: {last}")
    return target


def _interpreter_class():
    """LiteRT's interpreter, else tflite-runtime's: the TensorFlow-free ones."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise ReferenceUnavailable(
                "neither ai-edge-litert nor tflite-runtime is installed; run `make setup`"
            ) from None
    return Interpreter


def describe_reply(reply) -> str:
    """A handler's error answer as `STATUS: message`, for direct and API Gateway replies."""
    if isinstance(reply, dict) and "statusCode" in reply:
        document = json.loads(reply.get("body") or "null")
    else:
        document = reply
    if not (isinstance(document, dict) and isinstance(document.get("error"), dict)):
        return f"no error: {json.dumps(document)[:80]}"
    error = document["error"]
    return f"{error.get('status')}: {error.get('message')}"


class ReferencePipeline:
    """Expected values for the homework questions, computed from one TFLite file."""

    def __init__(self, tflite: Path, pool_dir: Path = POOL_DIR):
        self.tflite = Path(tflite)
        self.pool_dir = Path(pool_dir)
        with quiet_stderr():
            self.interpreter = _interpreter_class()(model_path=str(self.tflite))
            self.interpreter.allocate_tensors()
        source = self.interpreter.get_input_details()[0]
        self.input_index = int(source["index"])
        self.input_size = int(source["shape"][1])
        self.output_index = int(self.interpreter.get_output_details()[0]["index"])

    @property
    def size_bytes(self) -> int:
        """Size of the converted model file in bytes."""
        return self.tflite.stat().st_size

    def image_path(self, name: str) -> Path:
        """Path of pool image `name` (e.g. `swatch-07.jpg`)."""
        return self.pool_dir / name

    def pixels(self, name: str, size: int | None = None) -> np.ndarray:
        """Pool image `name` as uint8 (size, size, 3), resized like `keras.utils.load_img`."""
        return load_image(self.image_path(name), size or self.input_size)

    def preprocess(self, name: str) -> np.ndarray:
        """The model's input for pool image `name`: a batch of one, scaled with x / 255."""
        return (self.pixels(name).astype(np.float32) / 255.0)[np.newaxis]

    def predict(self, name: str) -> float:
        """The model's output (probability of "dots") for pool image `name`."""
        self.interpreter.set_tensor(self.input_index, self.preprocess(name))
        with quiet_stderr():  # the first invoke applies the XNNPACK delegate and says so
            self.interpreter.invoke()
        return float(self.interpreter.get_tensor(self.output_index)[0][0])

    @functools.cached_property
    def _lesson_handler(self):
        """The course's guarded handler (lessons 04 and 05), loaded with this model (any works)."""
        if not LESSON_HANDLER.is_file():
            raise ReferenceUnavailable(f"{LESSON_HANDLER} is missing; run `make export`")
        # Answer as a deployment does: no ALLOW_LOOPBACK_URLS.
        settings = {"MODEL_PATH": str(self.tflite), "ALLOW_LOOPBACK_URLS": None}
        # The handler tightens Pillow's limits for its own process; the grader keeps its own.
        max_pixels = Image.MAX_IMAGE_PIXELS
        try:
            with quiet_stderr(), warnings.catch_warnings():
                return load_function(LESSON_HANDLER, environment=settings, name="homework")
        except FileNotFoundError as error:
            raise ReferenceUnavailable(str(error)) from None
        finally:
            Image.MAX_IMAGE_PIXELS = max_pixels

    def handler_answer(self, event) -> str:
        """What the course's guarded handler answers to `event`, as `STATUS: message`."""
        # The handler writes one JSON log line per request to stdout; it is not part of the answer.
        with contextlib.redirect_stdout(io.StringIO()):
            reply = self._lesson_handler.lambda_handler(copy.deepcopy(event), None)
        return describe_reply(reply)


@functools.cache
def reference_pipeline() -> ReferencePipeline:
    """The reference pipeline for the committed homework model (converted once, then cached)."""
    return ReferencePipeline(reference_tflite())
