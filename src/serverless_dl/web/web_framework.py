"""Lesson 09's comparison: the plain handler and the FastAPI app, each in its own function image.

Both images hold the same model and the same guarded download; they differ in
the web layer. `compare()` builds both, runs each the way Lambda runs a
function (not root, read-only root file system, a memory limit: see
`function_images.lambda_like_options`) under the Runtime Interface Emulator,
and sends each the same API Gateway proxy event: `images/pants.jpg` as a
binary body, base64-encoded as API Gateway passes it. It measures:

- image size (`docker image inspect`);
- cold start: from `docker run` to the first answer, and the init duration
  the emulator reports;
- warm latency: the median of `warm_runs` further requests;
- lines of code of the web layer (code lines only, no docstrings, comments or
  blank lines): the handler's `lambda_handler`, `answer`, `respond` and
  `write_log`, against the whole of `docker/fastapi/app.py`.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import statistics
import time
import tokenize
from dataclasses import dataclass
from pathlib import Path

from serverless_dl.base.paths import DOCKER, in_repo
from serverless_dl.containers.function_images import (
    FUNCTION_IMAGES,
    FunctionImage,
    build_function_image,
    lambda_like_options,
)
from serverless_dl.containers.lambda_base import start_function
from serverless_dl.function.rie import parse_init_durations

FASTAPI_IMAGE = FunctionImage("fastapi", DOCKER / "fastapi/Dockerfile", "clothing-model:fastapi")
VARIANTS = {"plain handler": FUNCTION_IMAGES["classic"], "FastAPI + Mangum": FASTAPI_IMAGE}
# The code that turns a request into an answer, in each variant.
WEB_LAYER = {
    "plain handler": (
        DOCKER / "lambda_function.py",
        ("lambda_handler", "answer", "respond", "write_log"),
    ),
    "FastAPI + Mangum": (DOCKER / "fastapi" / "app.py", None),
}
MEMORY_MB = 1024  # MemorySize in both templates


def code_lines(path: str | Path, functions: tuple[str, ...] | None = None) -> int:
    """Code lines of `path`, or of its top-level `functions`: no docstrings, comments or blanks."""
    source = Path(path).read_text()
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):  # fmt: skip
            docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    wanted = None
    if functions is not None:
        wanted = set()
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in functions:
                wanted.update(range(node.lineno, node.end_lineno + 1))
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                              tokenize.DEDENT, tokenize.ENDMARKER):  # fmt: skip
            lines.update(range(token.start[0], token.end[0] + 1))
    lines -= docstrings
    return len(lines if wanted is None else lines & wanted)


def proxy_event(image: str | Path, page_origin: str) -> dict:
    """A REST API (v1) proxy event for POST /predict with `image` as a binary body."""
    headers = {"Content-Type": "image/jpeg", "Origin": page_origin}
    return {
        "resource": "/predict", "path": "/predict", "httpMethod": "POST",
        "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": None, "stageVariables": None,
        "requestContext": {"resourcePath": "/predict", "httpMethod": "POST", "stage": "prod",
                           "path": "/prod/predict", "identity": {"sourceIp": "127.0.0.1"}},
        "body": base64.b64encode(in_repo(image).read_bytes()).decode(),
        "isBase64Encoded": True,
    }  # fmt: skip


@dataclass
class Measurement:
    """One variant's figures."""

    variant: str
    prediction: str
    image_mb: float
    cold_start_s: float
    init_ms: float | None
    warm_ms: float
    code_lines: int


def measure(variant: str, image: str | Path, warm_runs: int, page_origin: str) -> Measurement:
    """Build `variant`'s image, run it as Lambda does; time one cold and `warm_runs` warm calls."""
    built = build_function_image(VARIANTS[variant])
    event = proxy_event(image, page_origin)
    started = time.perf_counter()
    function = start_function(
        built.tag, env={"ALLOWED_ORIGIN": page_origin}, options=lambda_like_options(MEMORY_MB)
    )
    with function:
        first = function.invoke(event)
        cold = time.perf_counter() - started
        if first.status != 200 or first.json().get("statusCode") != 200:
            raise RuntimeError(f"{variant} answered {first.status}: {first.text[:300]}")
        warm = [function.invoke(event).seconds for _ in range(warm_runs)]
        init = parse_init_durations(function.logs())
    path, functions = WEB_LAYER[variant]
    return Measurement(
        variant=variant,
        prediction=json.loads(first.json()["body"])["prediction"],
        image_mb=built.size_bytes / 1e6,
        cold_start_s=cold,
        init_ms=init[0] if init else None,
        warm_ms=statistics.median(warm) * 1000,
        code_lines=code_lines(path, functions),
    )


def compare(image: str | Path, warm_runs: int = 20, page_origin: str = "http://localhost:8000"):
    """Both variants, measured one after the other in this run."""
    return [measure(variant, image, warm_runs, page_origin) for variant in VARIANTS]


def table(rows: list[Measurement]) -> str:
    """The comparison as a text table."""
    lines = [f"{'':<18}{'answer':>8}{'image MB':>10}{'cold s':>8}{'init ms':>9}"
             f"{'warm ms':>9}{'lines':>7}"]  # fmt: skip
    for row in rows:
        init = f"{row.init_ms:.0f}" if row.init_ms is not None else "-"
        lines.append(f"{row.variant:<18}{row.prediction:>8}{row.image_mb:>10.0f}"
                     f"{row.cold_start_s:>8.2f}{init:>9}{row.warm_ms:>9.1f}"
                     f"{row.code_lines:>7}")  # fmt: skip
    return "\n".join(lines)
