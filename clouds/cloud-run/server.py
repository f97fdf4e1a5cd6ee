"""The clothing classifier as a Google Cloud Run service: a WSGI app that gunicorn serves on $PORT.

A thin adapter: it turns the WSGI request into the request the core reads (headers, a
base64 body) and the core's (status, document) into a JSON response. The core is
lesson 04's lambda_function.py with lesson 05's image_source.py, copied into the build
context by `python -m serverless_dl.clouds.other_clouds stage cloud-run`.
"""

import base64
import http
import json
import uuid

from lambda_function import answer

from image_source import MAX_BODY_CHARACTERS


def request_headers(environ):
    """The request's headers by their HTTP names (WSGI keeps two of them apart)."""
    headers = {key[5:].replace("_", "-").title(): value
               for key, value in environ.items() if key.startswith("HTTP_")}
    for key, name in (("CONTENT_TYPE", "Content-Type"), ("CONTENT_LENGTH", "Content-Length")):
        if environ.get(key):
            headers[name] = environ[key]
    return headers


def app(environ, start_response):
    """POST {"url": ...} or an image; answer the classification or the error as JSON."""
    # Never read more than the core accepts: one byte over its limit is refused as too large.
    body = environ["wsgi.input"].read(MAX_BODY_CHARACTERS + 1)
    headers = request_headers(environ)
    core_request = {
        "version": "2.0",  # the core reads the HTTP request in API Gateway's v2 shape
        "requestContext": {"http": {"method": environ["REQUEST_METHOD"]}},
        "headers": headers,
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }
    # Cloud Run names each request in its trace header.
    request_id = headers.get("X-Cloud-Trace-Context", "").split("/")[0] or str(uuid.uuid4())
    status, document = answer(core_request, request_id)
    payload = json.dumps(document).encode()
    start_response(f"{status} {http.HTTPStatus(status).phrase}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]
