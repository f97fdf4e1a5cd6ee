# Generated from notebooks/05-hardening.ipynb: its code cells tagged `export`.
# Edit the notebook, not this file; `make export` writes it again.


"""Where the classifier's images come from: a URL to download, or the request itself.

Lesson 05 builds every guard here. A URL must be http(s), name a host whose addresses are
all public, and reach the image in at most three redirects, each checked like the first;
the connection goes to the address that was checked; each wait and the whole download have
time limits; the body is counted while it streams; only JPEG, PNG and WebP images of limited
size are decoded; a proxy event's body must be JSON or an image; a photo sent as base64 in
JSON ({"image": "..."}) must be strict base64 of at most the same size. Whatever fails
becomes a RequestError with an HTTP status and a message meant for the caller.
"""

__all__ = ["RequestError", "fetch_image", "image_from_bytes", "image_from_event",
           "image_from_payload", "is_proxy_event"]


import base64
import contextlib
import http.client
import ipaddress
import json
import os
import socket
import threading
import time
import urllib.parse
import warnings
from io import BytesIO

from PIL import Image, UnidentifiedImageError


class RequestError(Exception):
    """A problem with the request, reported to the caller as `status` and a message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


MAX_URL_LENGTH = 2048


def check_url_text(url):
    """`url` without surrounding spaces; refuse what is not a short, printable string."""
    if not isinstance(url, str) or not url.strip():
        raise RequestError(400, "'url' must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise RequestError(400, f"'url' is longer than {MAX_URL_LENGTH} characters")
    # urlsplit lets a NUL through (the resolver would stop reading the host name there)
    # and silently drops CR, LF and tab; none of them belongs in a URL.
    if not url.strip().isprintable():
        raise RequestError(400, "'url' contains control characters")
    return url.strip()


def parse_url(url):
    """The parts and port of `url`: http or https, a host name, no credentials."""
    try:
        parts = urllib.parse.urlsplit(check_url_text(url))
        port = parts.port
    except ValueError:
        raise RequestError(400, "'url' is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise RequestError(400, "only http and https URLs are allowed")
    if not parts.hostname:
        raise RequestError(400, "the URL has no host name")
    if parts.username or parts.password:
        raise RequestError(400, "URLs with credentials are not allowed")
    default_port = 443 if parts.scheme == "https" else 80
    return parts, default_port if port is None else port


NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(address):
    """The IPv4 address inside an IPv6 `address` (mapped, NAT64 or 6to4), or None."""
    if address.version != 6:
        return None
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.ipv4_mapped or address.sixtofour


# For local tests only: lets the function fetch from 127.0.0.1. Never set it in a deployment.
ALLOW_LOOPBACK_URLS = os.environ.get("ALLOW_LOOPBACK_URLS") == "1"


def is_public_address(address):
    """True if `address` (an ipaddress object) is a public unicast address we may fetch from."""
    address = embedded_ipv4(address) or address
    if ALLOW_LOOPBACK_URLS and address.is_loopback:
        return True
    return address.is_global and not (
        address.is_multicast or address.is_private or address.is_loopback
        or address.is_link_local or address.is_reserved or address.is_unspecified
        or (address.version == 6 and address.is_site_local)
    )


def resolve_public_address(host, port):
    """Resolve `host` and return one address to connect to; refuse it unless all are public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise RequestError(422, f"could not resolve the host name {host!r}") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for address in addresses:
        if not is_public_address(address):
            raise RequestError(403, f"the URL points to a non-public address ({address})")
    return str(addresses[0])


MAX_REDIRECTS = 3
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


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
    """Fetch `url` hop by hop, each hop checked, and return the body bytes."""
    deadline = time.monotonic() + DOWNLOAD_DEADLINE_SECONDS
    parts, port = parse_url(url)
    for _ in range(MAX_REDIRECTS + 1):
        address = resolve_public_address(parts.hostname, port)
        with open_connection(parts, port, address, deadline) as connection:
            response = send_request(connection, parts)
            if response.status not in REDIRECT_STATUSES:
                check_response(response)
                return read_body(response, stats)
            url, parts, port = follow_redirect(url, response.getheader("Location"))
    raise RequestError(422, f"the image URL redirected more than {MAX_REDIRECTS} times")


CONNECT_TIMEOUT_SECONDS = 3


def pinned_connection(parts, port, address):
    """An HTTP(S) connection for `parts.hostname` that can only reach the checked `address`."""
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname, port)
    sock = socket.create_connection((address, port), CONNECT_TIMEOUT_SECONDS)
    connection._create_connection = lambda *_args, **_kwargs: sock  # no second DNS lookup
    return connection, sock


@contextlib.contextmanager
def open_connection(parts, port, address, deadline):
    """A pinned connection whose waits are bounded; network trouble becomes a RequestError."""
    try:
        connection, sock = pinned_connection(parts, port, address)
        with contextlib.closing(sock), contextlib.closing(connection):
            with bounded_waits(sock, deadline):
                yield connection
    except TimeoutError:
        raise RequestError(408, "the image host did not answer in time") from None
    except (OSError, http.client.HTTPException) as error:
        reason = type(error).__name__
        raise RequestError(422, f"could not download the image ({reason})") from None


USER_AGENT = "clothing-classifier/1.0 (AWS Lambda; +serverless deep learning course)"
IMAGE_CONTENT_TYPES = {"image/jpeg", "image/png", "image/webp"}
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP")  # what Pillow may decode: the same three


def send_request(connection, parts):
    """GET the URL's path, saying who asks and what it accepts (some hosts insist)."""
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    headers = {"User-Agent": USER_AGENT, "Accept": ", ".join(sorted(IMAGE_CONTENT_TYPES))}
    connection.request("GET", target, headers=headers)
    return connection.getresponse()


READ_TIMEOUT_SECONDS = 5
DOWNLOAD_DEADLINE_SECONDS = 10


def cut_off(sock, expired):
    """Note that time is up, and end every wait on `sock` at once."""
    expired.set()
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def cut_off_at(deadline, sock):
    """Shut `sock` down at `deadline`; yield the event that says whether that happened."""
    duplicate, expired = sock.dup(), threading.Event()  # TLS takes `sock` over, not its twin
    timer = threading.Timer(max(deadline - time.monotonic(), 0), cut_off, (duplicate, expired))
    timer.start()
    try:
        yield expired
    finally:
        timer.cancel()
        timer.join()  # so the duplicate is never shut down after it is closed
        duplicate.close()


@contextlib.contextmanager
def bounded_waits(sock, deadline):
    """Give up on any one wait after READ_TIMEOUT_SECONDS, and on everything at `deadline`."""
    sock.settimeout(READ_TIMEOUT_SECONDS)
    with cut_off_at(deadline, sock) as expired:
        try:
            yield
        except Exception:
            if not expired.is_set():
                raise
    if expired.is_set():  # whatever arrived before the cut is incomplete
        raise RequestError(408, f"the download took longer than {DOWNLOAD_DEADLINE_SECONDS} s")


MAX_IMAGE_BYTES = 5 * 1024 * 1024


def read_body(response, stats):
    """Read the body in chunks; stop as soon as it exceeds MAX_IMAGE_BYTES, whatever it said."""
    declared = response.getheader("Content-Length", "")
    # isdecimal, not isdigit: "²" is a digit, but not a number int() can read.
    chunks, too_large = [], declared.isdecimal() and int(declared) > MAX_IMAGE_BYTES
    while not too_large and (chunk := response.read1(64 * 1024)):
        stats["bytes_fetched"] += len(chunk)
        too_large = stats["bytes_fetched"] > MAX_IMAGE_BYTES
        chunks.append(chunk)
    if too_large:
        raise RequestError(413, f"the image is larger than {MAX_IMAGE_BYTES} bytes")
    return b"".join(chunks)


def check_response(response):
    """Refuse anything but a 200 answer that says it is an image we accept."""
    if response.status != 200:
        raise RequestError(422, f"the image URL answered HTTP {response.status}")
    content_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
    if content_type not in IMAGE_CONTENT_TYPES:
        shown = content_type or "no content type"
        raise RequestError(415, f"the URL returned {shown}, not a JPEG, PNG or WebP image")


MAX_PIXELS = 25_000_000


def open_image(data):
    """Open `data` as an image, reading only its header; refuse more than MAX_PIXELS."""
    try:
        with warnings.catch_warnings():  # Pillow warns about large images; they are refused
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(BytesIO(data), formats=IMAGE_FORMATS)
        pixels = image.width * image.height  # from the header: nothing is decoded yet
    except Image.DecompressionBombError:  # so large that Pillow itself refuses it
        pixels = float("inf")
    if pixels > MAX_PIXELS:
        raise RequestError(413, f"the image has more than {MAX_PIXELS} pixels")
    return image


def decode_image(data):
    """Bytes -> RGB Pillow image; refuse what is empty, not an image, broken or too large."""
    if not data:
        raise RequestError(415, "the image is empty")
    try:
        image = open_image(data)
        image.load()
        return image.convert("RGB")
    except UnidentifiedImageError:
        raise RequestError(415, "the data is not a JPEG, PNG or WebP image") from None
    except (OSError, SyntaxError, ValueError):
        raise RequestError(415, "the image data is corrupt or truncated") from None


def fetch_image(url, stats=None):
    """Download the image at `url` with every guard in place, and decode it safely."""
    stats = {"bytes_fetched": 0} if stats is None else stats
    return decode_image(download_image(url, stats))


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


MAX_BODY_CHARACTERS = 4 * MAX_IMAGE_BYTES // 3 + 4  # the largest image, base64-encoded


def body_text(event):
    """A proxy event's body as sent; refuse it if it is missing, not text, or too large."""
    body = event.get("body")
    if body is None or body == "":
        raise RequestError(400, 'the request has no body; send {"url": "..."} or an image')
    if not isinstance(body, str):
        raise RequestError(400, "the request body must be a string")
    if len(body) > MAX_BODY_CHARACTERS:
        raise RequestError(413, f"the request body is larger than {MAX_IMAGE_BYTES} bytes")
    return body


def body_bytes(event):
    """A proxy event's body as bytes, decoded from base64 when the event says it is."""
    body = body_text(event)
    if event.get("isBase64Encoded") is not True:
        return body.encode("utf-8", errors="surrogatepass")
    try:
        return base64.b64decode(body, validate=True)
    except ValueError:  # binascii.Error is a ValueError
        raise RequestError(400, "the body is marked base64 but is not valid base64") from None


def read_proxy_body(event):
    """A proxy event's body: image bytes when it says it is an image, else parsed JSON."""
    raw = body_bytes(event)
    if header(event, "content-type").split(";")[0].strip().lower().startswith("image/"):
        return raw
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise RequestError(400, 'the body must be JSON like {"url": "..."} or an image') from None


def image_from_bytes(data, stats):
    """Image bytes sent with the request: counted like a download, size-limited, decoded."""
    stats["bytes_fetched"] = len(data)
    if len(data) > MAX_IMAGE_BYTES:
        raise RequestError(413, f"the image is larger than {MAX_IMAGE_BYTES} bytes")
    return decode_image(data)


def image_from_base64(text, stats):
    """The photo in a JSON 'image' field: strict base64 of at most MAX_IMAGE_BYTES, decoded."""
    if not isinstance(text, str) or not text:
        raise RequestError(400, "'image' must be a non-empty string of base64")
    if len(text) > MAX_BODY_CHARACTERS:  # refused before decoding it
        raise RequestError(413, f"the image is larger than {MAX_IMAGE_BYTES} bytes")
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error is a ValueError
        raise RequestError(400, "'image' is not valid base64") from None
    return image_from_bytes(data, stats)


def image_from_payload(payload, stats):
    """The image a JSON request asks about: {"url": ...} to download, or {"image": base64}."""
    if not isinstance(payload, dict):
        raise RequestError(400, 'expected a JSON object like {"url": "..."}')
    if "url" in payload and "image" in payload:
        raise RequestError(400, "send either 'url' or 'image', not both")
    if "image" in payload:
        return image_from_base64(payload["image"], stats)
    if "url" not in payload:
        raise RequestError(400, "missing 'url'")
    return fetch_image(payload["url"], stats)


def image_from_event(event, stats):
    """The decoded image a request asks about: its body, its base64 'image', or its 'url'."""
    payload = read_proxy_body(event) if is_proxy_event(event) else event
    if isinstance(payload, bytes):
        return image_from_bytes(payload, stats)
    return image_from_payload(payload, stats)
