"""The clothing classifier as a FastAPI app: `POST /predict`, run on Lambda through Mangum.

The model and the guarded download are the plain handler's (`lambda_function.classify` and
`image_source`); this file is only the web layer. On Lambda the image's CMD is
`app.handler`: Mangum turns each API Gateway proxy event into an ASGI request for the app
and the app's response back into the proxy answer. Elsewhere `uvicorn app:app` serves it.
"""

import json
import os
import traceback

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from lambda_function import classify
from mangum import Mangum
from starlette.concurrency import run_in_threadpool

from image_source import (
    MAX_BODY_CHARACTERS,
    MAX_IMAGE_BYTES,
    RequestError,
    image_from_bytes,
    image_from_payload,
)

app = FastAPI(title="Clothing classifier")
if os.environ.get("ALLOWED_ORIGIN"):  # the web page's origin (lesson 09); never "*"
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[os.environ["ALLOWED_ORIGIN"]],
        allow_methods=["POST"],
        allow_headers=["Content-Type", "X-Api-Key"],
    )


def problem(status, message):
    """The same error document as the plain handler's: {"error": {"status", "message"}}."""
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)


@app.exception_handler(RequestError)
async def refused(request, error):
    """A problem with the request: its 4xx status and a message meant for the caller."""
    return problem(error.status, str(error))


@app.exception_handler(Exception)
async def failed(request, error):
    """A bug: the traceback goes to the log, a plain 500 to the caller."""
    print(traceback.format_exc(), flush=True)
    return problem(500, "internal error")


def image_from(body, content_type):
    """The decoded image a request asks about: its body, its base64 'image', or its 'url'."""
    stats = {"bytes_fetched": 0}
    if content_type.split(";")[0].strip().lower().startswith("image/"):
        return image_from_bytes(body, stats)
    if len(body) > MAX_BODY_CHARACTERS:  # the plain handler's limit for a proxy body
        raise RequestError(413, f"the request body is larger than {MAX_IMAGE_BYTES} bytes")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise RequestError(400, 'the body must be JSON like {"url": "..."} or an image') from None
    return image_from_payload(payload, stats)


@app.post("/predict")
async def predict(request: Request):
    """Classify the image in the body, or at the URL the JSON body names."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    # Decoding and inference block; a thread keeps the app's event loop free meanwhile.
    return await run_in_threadpool(lambda: classify(image_from(body, content_type)))


# The Lambda entry point. lifespan="off": the app has no startup or shutdown events.
handler = Mangum(app, lifespan="off")
