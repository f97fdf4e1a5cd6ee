# Generated from homework/homework.ipynb: its code cells tagged `export`.
# Edit the notebook, not this file; `make export-homework` writes it again.


"""Swatch classifier for AWS Lambda: an image URL in, the probability of dots out.

The homework model, with lesson 05's guards from image_source.py next to this file.
"""

import json
import os
import traceback

from image_source import RequestError, image_from_event, is_proxy_event

# TODO: import an interpreter (LiteRT, else tflite-runtime, as lesson 04 does), NumPy, Pillow.


MODEL_PATH = os.environ.get("MODEL_PATH", "homework-model.tflite")
LABELS = ("stripes", "dots")  # the model's one output is the probability of "dots"

# TODO: load MODEL_PATH into an interpreter and allocate its tensors; keep the input index,
# the input size (read it from the model) and the output index.


def preprocess(image):
    """The model's input for a Pillow RGB image: a float32 batch of one."""
    # TODO: resize to the input size with nearest-neighbour interpolation; scale to 0..1.
    raise NotImplementedError("preprocess is still a TODO")


def classify(image):
    """The answer for a Pillow RGB image: its label, and its score, the probability of dots."""
    # TODO: set the input tensor, invoke, read the output; return plain Python values.
    raise NotImplementedError("classify is still a TODO")


def respond(event, status, document):
    """The document itself, or an HTTP response for an API Gateway proxy event."""
    if not is_proxy_event(event):
        return document
    headers = {"Content-Type": "application/json"}
    return {"statusCode": status, "headers": headers, "body": json.dumps(document)}


def lambda_handler(event, context):
    """Entry point for Lambda: the model's answer for the image the event points to."""
    try:
        document, status = classify(image_from_event(event, {"bytes_fetched": 0})), 200
    except RequestError as error:
        status, document = error.status, {"error": {"status": error.status, "message": str(error)}}
    except Exception:  # a bug: the details to the log, a plain 500 to the caller
        traceback.print_exc()
        status, document = 500, {"error": {"status": 500, "message": "internal error"}}
    return respond(event, status, document)
