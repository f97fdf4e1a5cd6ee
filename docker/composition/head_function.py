"""A head as a function: a feature vector in, the scores of the head's labels out (lesson 11).

The image holds one head: `head.tflite` and `head.json`, whose "labels" name its outputs.
The event is what the backbone function answers: {"features": [...], ...}.
"""

import json
import math
import os

import numpy as np
from answers import answer, model_digest

from image_source import RequestError

try:  # LiteRT on the python3.12+ runtimes; tflite-runtime on python3.11
    from ai_edge_litert.interpreter import Interpreter
except ImportError:
    from tflite_runtime.interpreter import Interpreter

MODEL_PATH = os.environ.get("MODEL_PATH", "head.tflite")
with open(os.environ.get("LABELS_PATH", "head.json")) as labels_file:
    LABELS = json.load(labels_file)["labels"]

interpreter = Interpreter(model_path=MODEL_PATH)
interpreter.allocate_tensors()
INPUT_INDEX = interpreter.get_input_details()[0]["index"]
FEATURE_COUNT = int(interpreter.get_input_details()[0]["shape"][1])
OUTPUT_INDEX = interpreter.get_output_details()[0]["index"]
MODEL_VERSION = model_digest(MODEL_PATH)


def read_features(event):
    """The event's feature vector as a (1, FEATURE_COUNT) array; a RequestError if malformed."""
    values = event.get("features") if isinstance(event, dict) else None
    if not isinstance(values, list) or len(values) != FEATURE_COUNT:
        raise RequestError(400, f"'features' must be a list of {FEATURE_COUNT} numbers")
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool)
               and math.isfinite(value) for value in values):  # fmt: skip
        raise RequestError(400, "'features' must hold finite numbers only")
    return np.array([values], dtype=np.float32)


def classify(features):
    """The head's scores for one feature vector, as plain Python values that JSON can carry."""
    interpreter.set_tensor(INPUT_INDEX, features)
    interpreter.invoke()
    scores = interpreter.get_tensor(OUTPUT_INDEX)[0]
    best = int(np.argmax(scores))
    return {
        "prediction": LABELS[best],
        "score": float(scores[best]),
        "scores": {label: float(score) for label, score in zip(LABELS, scores, strict=True)},
        "model_version": MODEL_VERSION,
    }


def lambda_handler(event, context):
    """Entry point for Lambda: the head's answer for the features in the event; never raise."""
    return answer(
        lambda request, stats: classify(read_features(request)),
        event,
        getattr(context, "aws_request_id", None),
        MODEL_VERSION,
    )[1]
