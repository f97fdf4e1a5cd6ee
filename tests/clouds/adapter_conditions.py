"""Per-request test conditions inside an adapter's own process (test plumbing for lesson 12).

The hostile table (`test_handler_hostile.CASES`) runs each case on one of
`handler_harness.CONFIGURATIONS` (loopback allowed or not, shorter timeouts),
some with a `PretendInternet` or a TLS certificate to trust. In-process tests
get that by loading configured instances; an adapter served by
`functions-framework`, gunicorn in a container or the Azure runner has one
instance of the core, so the test names the conditions of each request in the
header `X-Course-Test-Conditions` (JSON: handler, pretend, certificate, and
`broken` to make `classify` raise, as a bug would). The hooks below apply them
to the core's modules for that request only and restore them after; the
adapter itself, and its parsing of the request, run unchanged.

Only the standard library and `handler_harness` are imported, so the clouds
environment and the Cloud Run container (with tests/ and src/ mounted) can
import this file.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator

from handler_harness import CONFIGURATIONS, case_conditions

from serverless_dl.function.handler_modules import LoadedFunction

HEADER = "X-Course-Test-Conditions"
SECRET = "secret detail from /var/task"


def _broken_classify(image):
    raise RuntimeError(SECRET)


@contextlib.contextmanager
def conditions(value: str | None) -> Iterator[None]:
    """Apply the conditions named by a header value to the core for one request."""
    if not value:
        yield
        return
    spec = json.loads(value)
    source, handler = sys.modules["image_source"], sys.modules["lambda_function"]
    settings = dict(CONFIGURATIONS[spec["handler"]])
    settings["ALLOW_LOOPBACK_URLS"] = settings.pop("allow_loopback")
    saved = {name: getattr(source, name) for name in settings}
    saved_classify = handler.classify
    try:
        for name, setting in settings.items():
            setattr(source, name, setting)
        if spec.get("broken"):
            handler.classify = _broken_classify
        function = LoadedFunction(handler, source)
        with case_conditions(function, pretend=spec.get("pretend", False),
                             certificate=spec.get("certificate")):
            yield
    finally:
        handler.classify = saved_classify
        for name, setting in saved.items():
            setattr(source, name, setting)


def from_headers(headers: dict[str, str]):
    """The conditions of a request, found case-insensitively among its headers."""
    value = next((value for name, value in headers.items() if name.lower() == HEADER.lower()),
                 None)
    return conditions(value)


# --- Functions Framework: `functions-framework --source tests/clouds/adapter_conditions.py
# --target predict`, run in the staged folder, wraps the adapter's own function.


def predict(request):
    """The staged main.predict, under the conditions the request names."""
    import main

    with conditions(request.headers.get(HEADER)):
        return main.predict(request)


# --- gunicorn (the Cloud Run image): GUNICORN_CMD_ARGS="--config .../adapter_conditions.py"
# adds these server hooks to the image's unchanged CMD.


def pre_request(worker, request):
    """Enter the conditions the request names before the WSGI app sees it."""
    value = next((value for name, value in request.headers if name.lower() == HEADER.lower()),
                 None)
    request.course_conditions = conditions(value)
    request.course_conditions.__enter__()


def post_request(worker, request, environ, response):
    """Leave them once the response has been written."""
    request.course_conditions.__exit__(None, None, None)
