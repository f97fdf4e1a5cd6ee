"""The exported function in this process, and what a well-formed answer looks like.

Shared by the hostile, fuzz and soak tests, and by `handler_runner.py`, which
answers the hostile cases in a Lambda environment's own Python:

- `load_handler()` imports fresh instances of `docker/lambda_function.py` and
  the `docker/image_source.py` it imports (`serverless_dl.function.handler_modules`),
  so each configuration (loopback allowed or not, shorter timeouts) gets its
  own pair, set up by its environment variables as Lambda would set it up.
- `CONFIGURATIONS` are the configurations the hostile cases run on, and
  `case_conditions()` gives one of them a `PretendInternet` (in place of
  image_source's `socket` module) and a TLS certificate to trust, for one case.
- `proxy_event()` builds API Gateway v1 and v2 proxy events.
- `read_answer()` checks that an answer is well-formed and returns its status and document.

Only the standard library and `serverless_dl`'s standard-library modules are
imported, so that the Lambda environments can import this file too.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from serverless_dl.attacks.pretend_internet import (
    PRETEND_PUBLIC_ADDRESS,
    NoInternet,
    PretendInternet,
)
from serverless_dl.base.environment_variables import changed_environment
from serverless_dl.base.paths import MODELS
from serverless_dl.function.handler_modules import HANDLER_SCRIPT, LoadedFunction, load_function

__all__ = ["HANDLER_SCRIPT", "NoInternet", "PRETEND_PUBLIC_ADDRESS", "PretendInternet"]

MODEL = MODELS / "clothing-model.tflite"
CLASSES = {
    "dress", "hat", "longsleeve", "outwear", "pants", "shirt", "shoes", "shorts", "skirt", "t-shirt"
}
JSON_HEADERS = {"Content-Type": "application/json"}

# The configurations the hostile cases run on, by name: `load_handler` keyword arguments.
CONFIGURATIONS = {
    # ALLOW_LOOPBACK_URLS=1, so the local servers can be fetched.
    "loopback": {"allow_loopback": True},
    # The same with shorter timeouts and deadline, for the slow servers.
    "quick": {"allow_loopback": True, "CONNECT_TIMEOUT_SECONDS": 2, "READ_TIMEOUT_SECONDS": 2,
              "DOWNLOAD_DEADLINE_SECONDS": 3},
    # As deployed: loopback refused.
    "guarded": {"allow_loopback": False},
}
# The pretend internet of the cases marked `pretend`: `images.example` is a public web
# server (its connections land on the local redirector), `mixed.example` has a public and
# a private address.
PRETEND_NAMES = {
    "images.example": [PRETEND_PUBLIC_ADDRESS],
    "mixed.example": [PRETEND_PUBLIC_ADDRESS, "10.0.0.7"],
    "localhost": ["127.0.0.1"],
}


def load_handler(*, allow_loopback: bool, model: Path | None = None, **overrides) -> LoadedFunction:
    """Import a fresh instance of the exported function, configured as Lambda would configure it.

    `overrides` replace module-level settings after import (for example shorter
    timeouts), in whichever of the two modules has the setting: both read them
    at call time.
    """
    model = Path(model or MODEL)
    if not model.is_file():
        raise FileNotFoundError(f"{model} does not exist; the handler tests need the course model")
    environment = {"MODEL_PATH": str(model), "ALLOW_LOOPBACK_URLS": "1" if allow_loopback else None}
    function = load_function(environment=environment, name="under_test")
    for setting, value in overrides.items():
        owners = [module for module in (function.source, function.handler)
                  if hasattr(module, setting)]
        if not owners:
            raise AttributeError(f"the exported function has no setting {setting}")
        setattr(owners[0], setting, value)
    return function


def load_configured(name: str) -> LoadedFunction:
    """A fresh instance in configuration `name` of `CONFIGURATIONS`."""
    return load_handler(**CONFIGURATIONS[name])


@contextlib.contextmanager
def case_conditions(
    function: LoadedFunction, *, pretend: bool = False, certificate: str | None = None
) -> Iterator[None]:
    """For one case: the pretend internet as image_source's `socket`, and a certificate to trust.

    OpenSSL reads `SSL_CERT_FILE` whenever the handler makes a default TLS context,
    that is, per request.
    """
    saved_socket = function.source.socket
    try:
        if pretend:
            function.source.socket = PretendInternet(PRETEND_NAMES)
        with changed_environment({"SSL_CERT_FILE": certificate} if certificate else {}):
            yield
    finally:
        function.source.socket = saved_socket


def proxy_event(version: int, body, *, content_type: str = "application/json",
                base64_encoded: bool = False) -> dict:
    """An API Gateway proxy event: REST API (`version` 1) or HTTP API / function URL (2).

    `body` is a JSON-able document (sent as JSON), bytes (sent base64-encoded
    when `base64_encoded`, else as UTF-8 text) or a string (sent as it is).
    """
    if isinstance(body, bytes):
        body = base64.b64encode(body).decode() if base64_encoded else body.decode()
    elif not isinstance(body, str) and body is not None:
        body = json.dumps(body)
        if base64_encoded:
            body = base64.b64encode(body.encode()).decode()
    event = {
        "headers": {"Content-Type" if version == 1 else "content-type": content_type},
        "body": body,
        "isBase64Encoded": base64_encoded,
    }
    if version == 1:
        event.update(httpMethod="POST", path="/predict", requestContext={"stage": "test"})
    else:
        event.update(version="2.0", routeKey="POST /predict", rawPath="/predict",
                     requestContext={"http": {"method": "POST", "path": "/predict"}})
    return event


@dataclass
class Answer:
    """A handler answer, unwrapped from its proxy response if it had one."""

    status: int
    document: dict

    @property
    def message(self) -> str:
        return self.document["error"]["message"] if self.status != 200 else ""


def read_answer(response, proxied: bool) -> Answer:
    """Check that `response` is a well-formed answer and unwrap it.

    Direct invocations get a document; proxy events get an HTTP response
    (status code, JSON content type, JSON body) whose body is that document.
    A document is a prediction (`prediction`, `score`, `scores` over the ten
    classes, and `model_version`: 12 hex digits of the model file's SHA-256) or an
    error (`{"error": {"status": 4xx or 500, "message": "..."}}`).
    """
    text = json.dumps(response)
    assert "Traceback" not in text and "stackTrace" not in text, text[:500]
    if proxied:
        assert isinstance(response, dict), response
        assert set(response) == {"statusCode", "headers", "body"}, response
        assert response["headers"] == JSON_HEADERS, response["headers"]
        status, document = response["statusCode"], json.loads(response["body"])
        assert type(status) is int, status
    else:
        document = response
        error = document.get("error") if isinstance(document, dict) else None
        status = error.get("status") if isinstance(error, dict) else 200
    assert isinstance(document, dict), document
    if "error" in document:
        error = document["error"]
        assert set(document) == {"error"} and set(error) == {"status", "message"}, document
        assert type(error["status"]) is int and isinstance(error["message"], str), document
        assert error["message"] and error["status"] == status, (status, document)
        assert 400 <= status < 500 or status == 500, document
        if status == 500:
            assert error["message"] == "internal error", document
    else:
        assert status == 200, (status, document)
        assert set(document) == {"prediction", "score", "scores", "model_version"}, document
        assert re.fullmatch(r"[0-9a-f]{12}", document["model_version"]), document
        assert document["prediction"] in CLASSES and set(document["scores"]) == CLASSES, document
        assert document["score"] == document["scores"][document["prediction"]], document
        assert document["score"] == max(document["scores"].values()), document
    return Answer(status, document)
