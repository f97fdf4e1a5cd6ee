"""The clothing classifier as a Google Cloud Run function (Functions Framework, HTTP trigger).

A thin adapter: it turns Flask's request into the request the core reads (headers, a
base64 body) and the core's (status, document) into a JSON response. The core is
lesson 04's lambda_function.py with lesson 05's image_source.py, copied in next to this
file by `python -m serverless_dl.clouds.other_clouds stage google-functions`.
"""

import base64
import json
import uuid

import functions_framework
from lambda_function import answer

from image_source import MAX_BODY_CHARACTERS


@functions_framework.http
def predict(request):
    """POST {"url": ...} or an image; answer the classification or the error as JSON."""
    # Never read more than the core accepts: one byte over its limit is refused as too large.
    body = request.stream.read(MAX_BODY_CHARACTERS + 1)
    core_request = {
        "version": "2.0",  # the core reads the HTTP request in API Gateway's v2 shape
        "requestContext": {"http": {"method": request.method}},
        "headers": dict(request.headers),
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }
    request_id = request.headers.get("Function-Execution-Id") or str(uuid.uuid4())
    status, document = answer(core_request, request_id)
    return json.dumps(document), status, {"Content-Type": "application/json"}
