"""The exported handler in this process, and what a well-formed answer looks like.

Shared by the hostile, fuzz and soak tests:

- `load_handler()` imports `docker/lambda_function.py` as a fresh module, so each
  configuration (loopback allowed or not, shorter timeouts) gets its own
  instance, exactly as its environment variables set it up at import.
- `PretendInternet` stands in for a handler instance's `socket` module: chosen
  names resolve to chosen addresses, and connections to a "public" address
  land on 127.0.0.1 instead. Nothing it is given ever reaches the network.
- `proxy_event()` builds API Gateway v1 and v2 proxy events.
- `read_answer()` checks that an answer is well-formed and returns its status and document.
"""

from __future__ import annotations

import base64
import importlib.util
import itertools
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from serverless_dl.paths import DOCKER, MODELS

HANDLER_SCRIPT = DOCKER / "lambda_function.py"
MODEL = MODELS / "clothing-model.tflite"
CLASSES = {
    "dress", "hat", "longsleeve", "outwear", "pants", "shirt", "shoes", "shorts", "skirt", "t-shirt"
}
JSON_HEADERS = {"Content-Type": "application/json"}
# A global unicast address that stands for "some web server on the internet";
# `PretendInternet` sends its connections to 127.0.0.1, so it is never contacted.
PRETEND_PUBLIC_ADDRESS = "1.2.3.4"

_instance_numbers = itertools.count()


def load_handler(*, allow_loopback: bool, model: Path | None = None, **overrides) -> ModuleType:
    """Import a fresh instance of the exported handler, configured as Lambda would configure it.

    `overrides` replace module-level settings after import (for example shorter
    timeouts), which is how the handler reads them: at call time.
    """
    model = Path(model or MODEL)
    if not model.is_file():
        raise FileNotFoundError(f"{model} does not exist; the handler tests need the course model")
    settings = {"MODEL_PATH": str(model), "ALLOW_LOOPBACK_URLS": "1" if allow_loopback else None}
    saved = {name: os.environ.get(name) for name in settings}
    try:
        for name, value in settings.items():
            _set_environment(name, value)
        name = f"lambda_function_under_test_{next(_instance_numbers)}"
        spec = importlib.util.spec_from_file_location(name, HANDLER_SCRIPT)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        for name, value in saved.items():
            _set_environment(name, value)
    for setting, value in overrides.items():
        if not hasattr(module, setting):
            raise AttributeError(f"the handler has no setting {setting}")
        setattr(module, setting, value)
    return module


def _set_environment(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


class NoInternet(ConnectionRefusedError):
    """A test handler tried to connect to an address that is not routed to 127.0.0.1."""


class PretendInternet:
    """A stand-in for the `socket` module of one handler instance.

    `names` maps host names to the addresses they resolve to; other hosts are
    resolved numerically only (IP literals in any notation the system accepts),
    and names that are neither resolve to `fallback` (a blocked address by
    default). No DNS query is ever sent. Connections to `PRETEND_PUBLIC_ADDRESS`
    go to 127.0.0.1 on the same port; any other connection fails with
    `NoInternet`, so nothing leaves the machine whatever the handler is asked.
    """

    def __init__(self, names: dict[str, list[str]] | None = None, fallback: str = "192.0.2.1"):
        self.names = dict(names or {})
        self.fallback = fallback

    def __getattr__(self, name):
        return getattr(socket, name)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002
        """Resolve like the system would, from `names`, numerals and `fallback` only."""
        if host in self.names:
            addresses = self.names[host]
        else:
            try:
                numeric_only = flags | socket.AI_NUMERICHOST
                return socket.getaddrinfo(host, port, family, type, proto, numeric_only)
            except socket.gaierror:
                addresses = [self.fallback]
        return [
            (socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM,
             socket.IPPROTO_TCP, "", (address, port))
            for address in addresses
        ]

    def create_connection(self, address, timeout=None, source_address=None, **kwargs):
        """Connect to 127.0.0.1 in place of the pretend public address; refuse anything else."""
        host, port = address[:2]
        if host != PRETEND_PUBLIC_ADDRESS:
            raise NoInternet(f"test handlers may not connect to {host}")
        return socket.create_connection(("127.0.0.1", port), timeout, source_address, **kwargs)


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
    classes) or an error (`{"error": {"status": 4xx or 500, "message": "..."}}`).
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
        assert set(document) == {"prediction", "score", "scores"}, document
        assert document["prediction"] in CLASSES and set(document["scores"]) == CLASSES, document
        assert document["score"] == document["scores"][document["prediction"]], document
        assert document["score"] == max(document["scores"].values()), document
    return Answer(status, document)
