"""Call an Azure Functions app's HTTP function without the Functions host (course plumbing).

The Azure Functions host (Core Tools, `func start`) cannot be installed on the course's
machines. Microsoft's unit-testing guide for the Python v2 programming model calls a
function directly instead: `function_app.predict.build().get_user_function()` gives the
decorated Python function, and an `azure.functions.HttpRequest` built from a request's
method, URL, headers and raw body is its input. That is what this runner does, so the
adapter's own parsing of the request runs; what the host adds (routing, the port, auth
keys, its own request limits) is not run.

`python -m serverless_dl.clouds.azure_local STAGED_FOLDER [--hook module:name]` runs in the
clouds environment (it imports azure.functions), prints "ready" once function_app.py is
loaded, then reads one JSON request per line on standard input:

    {"method": "POST", "url": "...", "headers": {...}, "body": "<base64>"}

and answers each with one JSON line: status, headers (Content-Type from the
response's mimetype), base64 body and the seconds the call took. What the function
prints (its JSON log line) goes to standard error. Only the standard library is imported
at the top, so the course environment can import this module to show its source.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib
import json
import os
import sys
import time
import urllib.parse
import uuid


class LocalContext:
    """The `context` argument the host passes: this invocation's id and the function's name."""

    def __init__(self, function_name: str, function_directory: str):
        self.invocation_id = str(uuid.uuid4())
        self.function_name = function_name
        self.function_directory = function_directory
        self.trace_context = None
        self.retry_context = None
        self.thread_local_storage = None


def call_function(function, request: dict, directory: str) -> dict:
    """Build an HttpRequest from `request`, call `function` with it, and describe the answer."""
    import azure.functions as func

    url = urllib.parse.urlsplit(request["url"])
    http_request = func.HttpRequest(
        method=request["method"], url=request["url"], headers=request["headers"],
        params=dict(urllib.parse.parse_qsl(url.query)), body=base64.b64decode(request["body"]),
    )
    started = time.perf_counter()
    response = function(http_request, LocalContext(function.__name__, directory))
    seconds = time.perf_counter() - started
    headers = dict(response.headers)
    if response.mimetype:  # the host turns mimetype and charset into Content-Type
        headers["Content-Type"] = f"{response.mimetype}; charset={response.charset}"
    body = base64.b64encode(response.get_body()).decode("ascii")
    return {"status": response.status_code, "headers": headers, "body": body,
            "seconds": seconds}


def load_function(folder: str, name: str = "predict"):
    """The user function behind `name` in `folder`/function_app.py, as Microsoft's tests get it."""
    sys.path.insert(0, folder)
    function_app = importlib.import_module("function_app")
    return getattr(function_app, name).build().get_user_function()


def _hook(spec: str | None):
    if not spec:
        return lambda headers: contextlib.nullcontext()
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def main() -> None:
    """Serve requests from standard input (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="python -m serverless_dl.clouds.azure_local")
    parser.add_argument("folder", help="a staged azure-functions folder")
    parser.add_argument("--hook", help="module:name of a context manager factory(headers)")
    args = parser.parse_args()
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # the function's prints land on stderr; stdout is the protocol
    folder = os.path.abspath(args.folder)
    os.chdir(folder)  # where the host runs a function app: its model path is relative
    function, hook = load_function(folder), _hook(args.hook)
    protocol.write("ready\n")
    protocol.flush()
    for line in sys.stdin:
        request = json.loads(line)
        with hook(request["headers"]):
            answer = call_function(function, request, folder)
        protocol.write(json.dumps(answer) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
