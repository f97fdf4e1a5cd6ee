"""Convert the homework model to TensorFlow Lite, as question 1 asks a learner to.

The grader never imports TensorFlow itself: `serverless_dl.homework.reference`
runs this module once in a child process and caches the result under
`build/`. The conversion is the plain float32 one of lesson 02, and with the
pinned TensorFlow it is byte-for-byte reproducible.

Command line::

    python -m serverless_dl.homework.convert KERAS_MODEL OUT.tflite
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path


def convert(keras_model: str | Path) -> bytes:
    """The float32 TensorFlow Lite flatbuffer of a Keras model file."""
    import keras
    import tensorflow as tf

    from serverless_dl.base import environment  # noqa: F401 - quiets TensorFlow before its import

    tf.get_logger().setLevel("ERROR")
    model = keras.models.load_model(keras_model)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    # The converter narrates the temporary SavedModel it writes; only the result matters.
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(
            "usage: python -m serverless_dl.homework.convert KERAS_MODEL OUT.tflite",
            file=sys.stderr,
        )
        return 2
    source, target = map(Path, args)
    if not source.is_file():
        print(f"error: {source} does not exist", file=sys.stderr)
        return 1
    data = convert(source)
    partial = target.with_suffix(".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(data)
    partial.replace(target)  # a half-written file never looks like a result
    return 0


if __name__ == "__main__":
    sys.exit(main())
