"""Serve the exported handler with another inference engine (benchmark only).

This file is copied into a task root next to `lambda_function.py` and runs in
the function's own environment, so it imports nothing from the course package.

`docker/lambda_function.py` imports `Interpreter` from `ai_edge_litert.interpreter`
(falling back to tflite-runtime) and uses six of its methods. Imported as the
function's handler module (`engine_adapter.lambda_handler`), this file first
registers a stand-in `ai_edge_litert.interpreter` module whose `Interpreter`
runs the model with the engine named by `BENCH_ENGINE`, then imports the
handler unchanged. Every runtime is therefore measured with the same handler
code: only inference differs.

- `keras`: TensorFlow/Keras; `model(batch, training=False)`, which Keras
  recommends over `predict()` for a single batch (no per-call pipeline set-up).
- `tf-lite`: `tf.lite.Interpreter` inside TensorFlow, which has exactly the API.
- `onnx`: an ONNX Runtime `InferenceSession`.

Run as a script, it is the *bare* baseline instead: the interpreter and the
handler's preprocessing in a loop, in-process, without the runtime interface,
the handler's checks or JSON (`python engine_adapter.py MODEL IMAGE... --repeat N`).
It prints one JSON document with the time of each start-up step and of each
inference.
"""

import os
import sys
import time
import types
import warnings

ENGINE_VARIABLE = "BENCH_ENGINE"


class KerasInterpreter:
    """A Keras model behind the TFLite interpreter's interface."""

    def __init__(self, model_path, **_options):
        import keras

        self._model = keras.models.load_model(model_path, compile=False)
        self._shape = (1, *self._model.input_shape[1:])
        self._input = self._output = None

    def allocate_tensors(self):
        """Do nothing: the model allocates its own memory."""
        pass

    def get_input_details(self):
        """The one input, with the model's input shape."""
        return [{"index": 0, "shape": self._shape}]

    def get_output_details(self):
        """The one output."""
        return [{"index": 0}]

    def set_tensor(self, _index, value):
        """Keep `value` as the next input."""
        self._input = value

    def invoke(self):
        """Run the model on the input set last."""
        self._output = self._model(self._input, training=False).numpy()

    def get_tensor(self, _index):
        """The output of the last `invoke()`."""
        return self._output


class OnnxInterpreter(KerasInterpreter):
    """An ONNX Runtime session behind the TFLite interpreter's interface."""

    def __init__(self, model_path, **_options):
        import onnxruntime

        self._session = onnxruntime.InferenceSession(
            model_path, providers=["CPUExecutionProvider"]
        )
        model_input = self._session.get_inputs()[0]
        self._input_name = model_input.name
        self._shape = (1, *model_input.shape[1:])  # the batch dimension is open
        self._input = self._output = None

    def invoke(self):
        """Run the ONNX session on the input set last."""
        self._output = self._session.run(None, {self._input_name: self._input})[0]


def _tf_lite_interpreter():
    import tensorflow as tf

    # TensorFlow 2.21 warns that tf.lite.Interpreter is deprecated in favour of LiteRT.
    warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
    return tf.lite.Interpreter


def install(engine):
    """Make `from ai_edge_litert.interpreter import Interpreter` give `engine`'s interpreter.

    Imports the engine's library now, as the handler's own import would.
    """
    if engine == "keras":
        import keras  # noqa: F401  (TensorFlow comes with it)

        interpreter = KerasInterpreter
    elif engine == "onnx":
        import onnxruntime  # noqa: F401

        interpreter = OnnxInterpreter
    elif engine == "tf-lite":
        interpreter = _tf_lite_interpreter()
    else:
        raise ValueError(f"unknown engine {engine!r}; choose keras, tf-lite or onnx")
    module = types.ModuleType("ai_edge_litert.interpreter")
    module.Interpreter = interpreter
    package = types.ModuleType("ai_edge_litert")
    package.interpreter = module
    sys.modules["ai_edge_litert"] = package
    sys.modules["ai_edge_litert.interpreter"] = module


def _milliseconds_since(started):
    return round((time.perf_counter() - started) * 1000, 3)


def bare_baseline(model_path, image_paths, repeat):
    """Time each start-up step, then `repeat` inferences (decode, preprocess, invoke)."""
    steps = {}
    started = time.perf_counter()
    from io import BytesIO

    import numpy as np
    from keras_image_helper import create_preprocessor
    from PIL import Image

    steps["import numpy, Pillow, keras-image-helper"] = _milliseconds_since(started)
    started = time.perf_counter()
    engine = os.environ.get(ENGINE_VARIABLE, "")
    if engine:
        install(engine)
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tflite_runtime.interpreter import Interpreter
    steps["import the inference engine"] = _milliseconds_since(started)
    started = time.perf_counter()
    interpreter = Interpreter(model_path=model_path)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    _, height, width, _ = interpreter.get_input_details()[0]["shape"]
    output_index = interpreter.get_output_details()[0]["index"]
    preprocessor = create_preprocessor("xception", target_size=(int(width), int(height)))
    steps["load the model"] = _milliseconds_since(started)
    images = []
    for path in image_paths:
        with open(path, "rb") as file:
            images.append(file.read())

    def infer(data):
        image = Image.open(BytesIO(data)).convert("RGB")
        interpreter.set_tensor(input_index, preprocessor.convert_to_tensor(image))
        interpreter.invoke()
        return int(np.argmax(interpreter.get_tensor(output_index)[0]))

    started = time.perf_counter()
    infer(images[0])
    steps["first inference"] = _milliseconds_since(started)
    inference_ms = []
    for number in range(repeat):
        started = time.perf_counter()
        infer(images[number % len(images)])
        inference_ms.append(_milliseconds_since(started))
    return {"steps_ms": steps, "inference_ms": inference_ms}


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Time the bare interpreter and preprocessing.")
    parser.add_argument("model")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--repeat", type=int, required=True)
    args = parser.parse_args()
    print(json.dumps(bare_baseline(args.model, args.images, args.repeat)))
elif __name__ == "engine_adapter":  # imported as the function's handler module
    install(os.environ[ENGINE_VARIABLE])
    from lambda_function import lambda_handler  # noqa: E402, F401  (the handler, unchanged)
