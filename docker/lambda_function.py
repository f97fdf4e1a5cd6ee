# Generated from notebooks/04-lambda-code.ipynb by `make export`.
# Edit the notebook, not this file: CI fails when the two differ.


"""Clothing classifier for AWS Lambda: image URL (or image body) in, class scores out.

Runs on tflite-runtime (Lambda python3.11) or LiteRT (python3.12+), without TensorFlow.
"""

import base64
import binascii
import contextlib
import http.client
import ipaddress
import json
import os
import socket
import threading
import time
import traceback
import urllib.parse
import warnings
from io import BytesIO

import numpy as np
from keras_image_helper import create_preprocessor
from PIL import Image, UnidentifiedImageError

try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:
    from tflite_runtime.interpreter import Interpreter


MODEL_PATH = os.environ.get("MODEL_PATH", "clothing-model.tflite")
CLASSES = [
    "dress", "hat", "longsleeve", "outwear", "pants", "shirt", "shoes", "shorts", "skirt", "t-shirt"
]

MAX_URL_LENGTH = 2048
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 25_000_000
MAX_REDIRECTS = 3
CONNECT_TIMEOUT_SECONDS = 3
READ_TIMEOUT_SECONDS = 5
DOWNLOAD_DEADLINE_SECONDS = 10
IMAGE_CONTENT_TYPES = {"image/jpeg", "image/png", "image/webp"}
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP")
USER_AGENT = "clothing-classifier/1.0 (AWS Lambda; +serverless deep learning course)"
# For local tests only: lets the function fetch from 127.0.0.1. Never set it in a deployment.
ALLOW_LOOPBACK_URLS = os.environ.get("ALLOW_LOOPBACK_URLS") == "1"


interpreter = Interpreter(model_path=MODEL_PATH)
interpreter.allocate_tensors()
INPUT_INDEX = interpreter.get_input_details()[0]["index"]
_, INPUT_HEIGHT, INPUT_WIDTH, _ = interpreter.get_input_details()[0]["shape"]
OUTPUT_INDEX = interpreter.get_output_details()[0]["index"]
preprocessor = create_preprocessor("xception", target_size=(int(INPUT_WIDTH), int(INPUT_HEIGHT)))

# Pillow's own bomb check: warn -> error, so oversized images never decode.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.simplefilter("error", Image.DecompressionBombWarning)


class RequestError(Exception):
    """A problem with the request, reported to the caller as `status` and a message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(address):
    """The IPv4 address inside an IPv6 `address` (mapped, NAT64 or 6to4), or None."""
    if address.version != 6:
        return None
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.ipv4_mapped or address.sixtofour


def is_public_address(address):
    """True if `address` (an ipaddress object) is a public unicast address we may fetch from."""
    address = embedded_ipv4(address) or address
    if ALLOW_LOOPBACK_URLS and address.is_loopback:
        return True
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
        or (address.version == 6 and address.is_site_local)
    )


def resolve_public_address(host, port):
    """Resolve `host` and return one address to connect to; refuse non-public ones."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise RequestError(422, f"could not resolve the host name {host!r}") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for address in addresses:
        if not is_public_address(address):
            raise RequestError(403, f"the URL points to a non-public address ({address})")
    return str(addresses[0])


def parse_url(url):
    """Validate `url` and return its parts; raise RequestError for anything unusable."""
    if not isinstance(url, str) or not url.strip():
        raise RequestError(400, "'url' must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise RequestError(400, f"'url' is longer than {MAX_URL_LENGTH} characters")
    url = url.strip()
    # urlsplit lets a NUL through (the resolver would stop reading the host name there) and
    # silently drops CR, LF and tab; neither belongs in a URL.
    if not url.isprintable():
        raise RequestError(400, "'url' contains control characters")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise RequestError(400, "'url' is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise RequestError(400, "only http and https URLs are allowed")
    if not parts.hostname:
        raise RequestError(400, "the URL has no host name")
    if parts.username or parts.password:
        raise RequestError(400, "URLs with credentials are not allowed")
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return parts, port


@contextlib.contextmanager
def open_connection(parts, port, address, deadline):
    """An HTTP(S) connection to `parts.hostname` via the checked `address`, cut at `deadline`."""
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname, port, timeout=READ_TIMEOUT_SECONDS)
    sock = socket.create_connection((address, port), CONNECT_TIMEOUT_SECONDS)
    sock.settimeout(READ_TIMEOUT_SECONDS)
    connection._create_connection = lambda *_args, **_kwargs: sock  # no second DNS lookup
    # TLS takes `sock` over, so the timer shuts down a duplicate: the same connection.
    duplicate = sock.dup()
    expired = threading.Event()

    def cut_off():
        expired.set()
        with contextlib.suppress(OSError):
            duplicate.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(max(deadline - time.monotonic(), 0), cut_off)
    timer.start()
    try:
        yield connection
    except Exception:
        if not expired.is_set():
            raise
    finally:
        timer.cancel()
        timer.join()
        connection.close()
        duplicate.close()
        sock.close()
    if expired.is_set():  # whatever arrived before the cut is incomplete
        raise RequestError(408, f"the download took longer than {DOWNLOAD_DEADLINE_SECONDS} s")


def check_response(response):
    """Refuse anything but a 200 answer that says it is an image we accept."""
    if response.status != 200:
        raise RequestError(422, f"the image URL answered HTTP {response.status}")
    content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
    if content_type not in IMAGE_CONTENT_TYPES:
        shown = content_type or "no content type"
        raise RequestError(415, f"the URL returned {shown}, not a JPEG, PNG or WebP image")


def read_body(response, stats):
    """Read the response body in chunks; stop as soon as it exceeds the size limit."""
    declared = response.getheader("Content-Length", "")
    # isdecimal, not isdigit: "²" is a digit, but not a number int() can read.
    if declared.isdecimal() and int(declared) > MAX_IMAGE_BYTES:
        raise RequestError(413, f"the image is larger than {MAX_IMAGE_BYTES} bytes")
    chunks = []
    while chunk := response.read1(64 * 1024):
        stats["bytes_fetched"] += len(chunk)
        if stats["bytes_fetched"] > MAX_IMAGE_BYTES:
            raise RequestError(413, f"the image is larger than {MAX_IMAGE_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def follow_redirect(url, location):
    """The URL a redirect leads to, and its parts, checked like the first URL."""
    if not location:
        raise RequestError(422, "the image URL redirected without a location")
    try:
        url = urllib.parse.urljoin(url, location)
        parts, port = parse_url(url)
    except (RequestError, ValueError) as error:  # the server's mistake, not the caller's
        raise RequestError(422, f"the image URL redirected to an unusable URL ({error})") from None
    return url, parts, port


def download_image(url, stats):
    """Fetch `url` with every guard in place and return the body bytes."""
    deadline = time.monotonic() + DOWNLOAD_DEADLINE_SECONDS
    parts, port = parse_url(url)
    for _ in range(MAX_REDIRECTS + 1):
        address = resolve_public_address(parts.hostname, port)
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        try:
            with open_connection(parts, port, address, deadline) as connection:
                connection.request("GET", target, headers={
                    "User-Agent": USER_AGENT,
                    "Accept": ", ".join(sorted(IMAGE_CONTENT_TYPES)),
                })
                response = connection.getresponse()
                if response.status not in (301, 302, 303, 307, 308):
                    check_response(response)
                    return read_body(response, stats)
                url, parts, port = follow_redirect(url, response.getheader("Location"))
        except TimeoutError:
            raise RequestError(408, "the image host did not answer in time") from None
        except (OSError, http.client.HTTPException) as error:
            reason = type(error).__name__
            raise RequestError(422, f"could not download the image ({reason})") from None
    raise RequestError(422, f"the image URL redirected more than {MAX_REDIRECTS} times")


def decode_image(data):
    """Bytes -> RGB Pillow image, refusing non-images, bombs and broken files."""
    if not data:
        raise RequestError(415, "the image is empty")
    try:
        image = Image.open(BytesIO(data), formats=IMAGE_FORMATS)
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise RequestError(413, f"the image has {width}x{height} pixels, over {MAX_PIXELS}")
        image.load()
        return image.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise RequestError(413, f"the image has more than {MAX_PIXELS} pixels") from None
    except UnidentifiedImageError:
        raise RequestError(415, "the data is not a JPEG, PNG or WebP image") from None
    except (OSError, SyntaxError, ValueError):
        raise RequestError(415, "the image data is corrupt or truncated") from None


def classify(image):
    """Class scores for a Pillow image, as plain JSON-serialisable Python values."""
    interpreter.set_tensor(INPUT_INDEX, preprocessor.convert_to_tensor(image))
    interpreter.invoke()
    scores = interpreter.get_tensor(OUTPUT_INDEX)[0]
    best = int(np.argmax(scores))
    return {
        "prediction": CLASSES[best],
        "score": float(scores[best]),
        "scores": {label: float(score) for label, score in zip(CLASSES, scores, strict=True)},
    }


def predict(url, stats=None):
    """Download the image at `url` and classify it."""
    stats = {"bytes_fetched": 0} if stats is None else stats
    return classify(decode_image(download_image(url, stats)))


MAX_BODY_CHARACTERS = 4 * MAX_IMAGE_BYTES // 3 + 4  # the largest image, base64-encoded


def is_proxy_event(event):
    """True for API Gateway REST (v1) and HTTP API / function URL (v2) proxy events."""
    return isinstance(event, dict) and "requestContext" in event and (
        "httpMethod" in event or event.get("version") == "2.0"
    )


def header(event, name):
    """A request header from a proxy event, looked up case-insensitively."""
    headers = event.get("headers") or {}
    if not isinstance(headers, dict):
        return ""
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name and isinstance(value, str):
            return value
    return ""


def read_proxy_body(event):
    """The request body of a proxy event: image bytes, or the parsed JSON document."""
    body = event.get("body")
    if body is None or body == "":
        raise RequestError(400, 'the request has no body; send {"url": "..."} or an image')
    if not isinstance(body, str):
        raise RequestError(400, "the request body must be a string")
    if len(body) > MAX_BODY_CHARACTERS:
        raise RequestError(413, f"the request body is larger than {MAX_IMAGE_BYTES} bytes")
    if event.get("isBase64Encoded") is True:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(400, "the body is marked base64 but is not valid base64") from None
    else:
        raw = body.encode("utf-8", errors="surrogatepass")
    if header(event, "content-type").split(";")[0].strip().lower().startswith("image/"):
        return raw
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise RequestError(400, 'the body must be JSON like {"url": "..."} or an image') from None


def read_image(event, stats):
    """The decoded image a request asks about, from its URL or its body."""
    payload = read_proxy_body(event) if is_proxy_event(event) else event
    if isinstance(payload, bytes):
        stats["bytes_fetched"] = len(payload)
        return decode_image(payload)
    if not isinstance(payload, dict):
        raise RequestError(400, 'expected a JSON object like {"url": "..."}')
    if "url" not in payload:
        raise RequestError(400, "missing 'url'")
    return decode_image(download_image(payload["url"], stats))


def respond(event, status, document):
    """Shape the answer for the caller: plain for direct calls, HTTP for proxy events."""
    if is_proxy_event(event):
        return {
            "statusCode": status,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(document),
        }
    return document


def lambda_handler(event, context):
    """Entry point for Lambda: classify the image the event points to."""
    started = time.perf_counter()
    stats = {"bytes_fetched": 0}
    record = {"request_id": getattr(context, "aws_request_id", None)}
    try:
        document, status = classify(read_image(event, stats)), 200
        record.update(outcome="ok", prediction=document["prediction"])
    except RequestError as error:
        status = error.status
        document = {"error": {"status": status, "message": str(error)}}
        record.update(outcome="rejected", reason=str(error))
    except Exception as error:  # a bug: details to the log, a plain 500 to the caller
        status = 500
        document = {"error": {"status": 500, "message": "internal error"}}
        record.update(outcome="error", error=repr(error), traceback=traceback.format_exc())
    record.update(
        status=status,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
        bytes_fetched=stats["bytes_fetched"],
    )
    print(json.dumps(record), flush=True)
    return respond(event, status, document)
