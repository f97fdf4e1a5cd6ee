# Generated from notebooks/04-lambda-code.ipynb: its code cells tagged `export`.
# Edit the notebook, not this file; `make export` writes it again.


"""Clothing classifier for AWS Lambda, without TensorFlow: an image in, class scores out."""


import hashlib
import json
import os
import time
import traceback

import numpy as np
from keras_image_helper import create_preprocessor

from image_source import RequestError, fetch_image, image_from_event, is_proxy_event

try:  # LiteRT on the python3.12+ runtimes; tflite-runtime on python3.11
    from ai_edge_litert.interpreter import Interpreter
except ImportError:
    from tflite_runtime.interpreter import Interpreter


MODEL_PATH = os.environ.get("MODEL_PATH", "clothing-model.tflite")
ALLOWED_ORIGIN = os.environ.get("ALLOWED_ORIGIN", "")  # the web page of lesson 09
CLASSES = ["dress", "hat", "longsleeve", "outwear", "pants",
           "shirt", "shoes", "shorts", "skirt", "t-shirt"]

interpreter = Interpreter(model_path=MODEL_PATH)
interpreter.allocate_tensors()
INPUT_INDEX = interpreter.get_input_details()[0]["index"]
_, INPUT_HEIGHT, INPUT_WIDTH, _ = interpreter.get_input_details()[0]["shape"]
OUTPUT_INDEX = interpreter.get_output_details()[0]["index"]
preprocessor = create_preprocessor("xception", target_size=(int(INPUT_WIDTH), int(INPUT_HEIGHT)))


def model_digest(path):
    """The first 12 hex digits of a file's SHA-256: which model this is, whatever its name."""
    with open(path, "rb") as model_file:
        return hashlib.sha256(model_file.read()).hexdigest()[:12]


MODEL_VERSION = model_digest(MODEL_PATH)


def classify(image):
    """Class scores for a Pillow image, as plain Python values that JSON can carry."""
    interpreter.set_tensor(INPUT_INDEX, preprocessor.convert_to_tensor(image))
    interpreter.invoke()
    scores = interpreter.get_tensor(OUTPUT_INDEX)[0]
    best = int(np.argmax(scores))
    return {
        "prediction": CLASSES[best],
        "score": float(scores[best]),
        "scores": {label: float(score) for label, score in zip(CLASSES, scores, strict=True)},
        "model_version": MODEL_VERSION,
    }


def predict(url):
    """Download the image at `url` and classify it."""
    return classify(fetch_image(url))


def respond(event, status, document):
    """The answer: the document itself, or an HTTP response when API Gateway asked."""
    if not is_proxy_event(event):
        return document
    headers = {"Content-Type": "application/json"}
    if ALLOWED_ORIGIN:  # lets that one web page, on another origin, read the answer (CORS)
        headers["Access-Control-Allow-Origin"] = ALLOWED_ORIGIN
    return {"statusCode": status, "headers": headers, "body": json.dumps(document)}


def write_log(record, status, started, stats):
    """One JSON line per request, which CloudWatch Logs Insights can query field by field."""
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    record.update(status=status, duration_ms=duration_ms, bytes_fetched=stats["bytes_fetched"])
    print(json.dumps(record), flush=True)


def answer(request, request_id):
    """(status, document) for {"url": ...} or an HTTP request in proxy format; never raises."""
    started, stats = time.perf_counter(), {"bytes_fetched": 0}
    record = {"request_id": request_id, "model_version": MODEL_VERSION}
    try:
        document, status = classify(image_from_event(request, stats)), 200
        record.update(outcome="ok", prediction=document["prediction"])
    except RequestError as error:
        status, document = error.status, {"error": {"status": error.status, "message": str(error)}}
        record.update(outcome="rejected", reason=str(error))
    except Exception as error:  # a bug: the details go to the log, a plain 500 to the caller
        status, document = 500, {"error": {"status": 500, "message": "internal error"}}
        record.update(outcome="error", error=repr(error), traceback=traceback.format_exc())
    write_log(record, status, started, stats)
    return status, document


def lambda_handler(event, context):
    """Entry point for Lambda: classify the image the event points to; never raise."""
    status, document = answer(event, getattr(context, "aws_request_id", None))
    return respond(event, status, document)
