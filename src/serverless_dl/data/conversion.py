"""Keras model to float32 TensorFlow Lite bytes, as lesson 02 converts last week's model."""

import contextlib
import io


def tflite_bytes(model) -> bytes:
    """`model` as a float32 TFLite file: the converter's defaults, nothing quantized."""
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # it logs each temporary file it writes
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    # The converter narrates the temporary SavedModel it writes; only the result matters.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return converter.convert()
