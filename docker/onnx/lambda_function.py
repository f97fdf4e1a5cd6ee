# Generated from notebooks/03-removing-tensorflow.ipynb: its code cells tagged `export`.
# Edit the notebook, not this file; `make export` writes it again.


"""Clothing classifier for AWS Lambda on ONNX Runtime: an image in, class scores out."""
import json
import os
import traceback

import numpy as np
import onnxruntime
from keras_image_helper import create_preprocessor

from image_source import RequestError, image_from_event, is_proxy_event

MODEL_PATH = os.environ.get("MODEL_PATH", "clothing-model.onnx")
CLASSES = ["dress", "hat", "longsleeve", "outwear", "pants",
           "shirt", "shoes", "shorts", "skirt", "t-shirt"]


session = onnxruntime.InferenceSession(MODEL_PATH, providers=["CPUExecutionProvider"])
INPUT_NAME = session.get_inputs()[0].name
_, INPUT_HEIGHT, INPUT_WIDTH, _ = session.get_inputs()[0].shape
preprocessor = create_preprocessor("xception", target_size=(INPUT_WIDTH, INPUT_HEIGHT))


def classify(image):
    """Class scores for a Pillow image."""
    batch = preprocessor.convert_to_tensor(image)
    scores = session.run(None, {INPUT_NAME: batch})[0][0]
    best = int(np.argmax(scores))
    return {
        "prediction": CLASSES[best],
        "score": float(scores[best]),
        "scores": {label: float(score) for label, score in zip(CLASSES, scores, strict=True)},
    }


def lambda_handler(event, context):
    """Entry point for Lambda: classify the image the event points to; never raise."""
    try:
        status, document = 200, classify(image_from_event(event, {"bytes_fetched": 0}))
    except RequestError as error:
        status, document = error.status, {"error": {"status": error.status, "message": str(error)}}
    except Exception:
        traceback.print_exc()
        status, document = 500, {"error": {"status": 500, "message": "internal error"}}
    if not is_proxy_event(event):
        return document
    headers = {"Content-Type": "application/json"}
    return {"statusCode": status, "headers": headers, "body": json.dumps(document)}
