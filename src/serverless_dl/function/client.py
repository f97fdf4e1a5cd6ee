"""A small test client: ask a deployed (or emulated) function about one image.

Command line::

    python -m serverless_dl.function.client IMAGE_URL [--endpoint URL] [--api-key KEY]

The default endpoint is the emulator's invoke URL on port 8080, where a
container built from `docker/Dockerfile` answers after
`docker run -p 8080:8080 clothing-model`. For an API Gateway stage, pass its
invoke URL plus `/predict`, and its API key with `--api-key`.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

from serverless_dl.function.rie import INVOKE_PATH, post_json

DEFAULT_ENDPOINT = f"http://localhost:8080{INVOKE_PATH}"


class PredictionError(RuntimeError):
    """The function answered, but not with a prediction."""


def image_event(image: Path) -> dict:
    """An HTTP API (v2) proxy event carrying `image` as its base64 body: no download needed."""
    return {
        "version": "2.0",
        "routeKey": "POST /predict",
        "headers": {"content-type": "image/jpeg"},
        "requestContext": {"http": {"method": "POST", "path": "/predict"}},
        "body": base64.b64encode(Path(image).read_bytes()).decode(),
        "isBase64Encoded": True,
    }


def answer_of(reply) -> dict:
    """The handler's JSON document from a reply to a direct or a proxy event.

    A proxy event's answer is an HTTP response whose body is that document.
    """
    document = reply.json()
    if isinstance(document, dict) and "statusCode" in document and "body" in document:
        document = json.loads(document["body"])
    return document


def predict(
    image_url: str, endpoint: str = DEFAULT_ENDPOINT, timeout: float = 60, api_key: str = ""
) -> dict:
    """POST `{"url": image_url}` to `endpoint` and return the prediction.

    Works for direct invocations (the emulator's URL) and for API Gateway
    proxy integrations (whose body is the same JSON document). `api_key` is
    sent as API Gateway's `x-api-key` header, for a method that requires a key.
    """
    headers = {"x-api-key": api_key} if api_key else {}
    reply = post_json(endpoint, {"url": image_url}, timeout=timeout, headers=headers)
    try:
        result = reply.json()
    except ValueError:
        raise PredictionError(f"HTTP {reply.status}: {reply.text[:300]}") from None
    if isinstance(result, dict) and "error" in result:
        raise PredictionError(f"HTTP {reply.status}: {result['error']}")
    if reply.status != 200 or not isinstance(result, dict) or "scores" not in result:
        raise PredictionError(f"HTTP {reply.status}: unexpected answer {reply.text[:300]}")
    return result


def format_prediction(result: dict) -> str:
    """The scores as aligned lines, best class first."""
    scores = sorted(result["scores"].items(), key=lambda item: item[1], reverse=True)
    width = max(len(label) for label, _ in scores)
    return "\n".join(f"{label:<{width}}  {score:.4f}" for label, score in scores)


def main(argv: list[str] | None = None) -> int:
    """Ask the function about one image URL from the command line; return the exit code."""
    parser = argparse.ArgumentParser(description="Ask the clothing classifier about one image URL.")
    parser.add_argument("image_url", help="http(s) URL of a JPEG or PNG image")
    parser.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help=f"default: {DEFAULT_ENDPOINT}")
    parser.add_argument("--json", action="store_true", help="print the raw JSON answer")
    parser.add_argument(
        "--api-key", default="", help="send this API key as x-api-key (an API Gateway stage)"
    )
    args = parser.parse_args(argv)
    try:
        result = predict(args.image_url, args.endpoint, api_key=args.api_key)
    except (PredictionError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if args.json else format_prediction(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
