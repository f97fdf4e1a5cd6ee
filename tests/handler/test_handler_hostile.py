"""The exported handler against hostile input: one table of cases, each with its answer.

Every case is an event, the status the handler must answer with and a stable
fragment of its message; every answer must also be well-formed, free of
tracebacks, and come by the download deadline. The servers the URLs point to
are the misbehaving ones of `hostile_servers`, all on 127.0.0.1 (over TLS too,
when the `openssl` command can make a certificate).

The whole table runs three times: in this process (the course environment),
and in each TensorFlow-free Lambda environment's own Python (classic:
tflite-runtime and NumPy 1; modern: LiteRT and NumPy 2), through
`handler_runner.py`, while the servers stay in this process. Each run uses
instances of `docker/lambda_function.py` and the `docker/image_source.py` it
imports (see `handler_harness`), one per configuration:

- `loopback`: `ALLOW_LOOPBACK_URLS=1`, so the local servers can be fetched.
- `quick`: the same with shorter timeouts and deadline, for the slow servers.
- `guarded`: as deployed, loopback refused. Cases marked `pretend` give it a
  `PretendInternet`, where `images.example` is a public web server whose
  connections land on the local redirector: a public site that redirects
  to localhost is then tested with the guard on.

A representative subset runs again through the real Runtime Interface Emulator
in both Lambda environments, to show that the answers are the same there.
"""

from __future__ import annotations

import base64
import functools
import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from handler_harness import (
    CONFIGURATIONS,
    MODEL,
    case_conditions,
    load_configured,
    proxy_event,
    read_answer,
)

from serverless_dl.attacks.hostile_servers import FLOOD_BYTES, HostileSite, hostile_site, png_bomb
from serverless_dl.base.paths import IMAGES, ROOT, TESTS
from serverless_dl.function.envs import LAMBDA_FLAVOURS, lambda_python
from serverless_dl.function.lambda_local import local_function
from serverless_dl.function.rie import free_port

MAX_IMAGE_BYTES = 5 * 1024 * 1024
TOO_MANY_REDIRECTS = "redirected more than 3 times"
NON_PUBLIC = "the URL points to a non-public address"
ONLY_HTTP = "only http and https URLs are allowed"
NOT_A_STRING = "'url' must be a non-empty string"
INVALID_URL = "'url' is not a valid URL"
NOT_AN_OBJECT = 'expected a JSON object like {"url": "..."}'
TOO_LARGE = f"the image is larger than {MAX_IMAGE_BYTES} bytes"
CORRUPT = "the image data is corrupt or truncated"
TOO_MANY_PIXELS = "the image has more than 25000000 pixels"
NOT_AN_IMAGE = "the data is not a JPEG, PNG or WebP image"
BODY_NOT_JSON = 'the body must be JSON like {"url": "..."} or an image'
IMAGE_NOT_A_STRING = "'image' must be a non-empty string of base64"
IMAGE_NOT_BASE64 = "'image' is not valid base64"
URL_AND_IMAGE = "send either 'url' or 'image', not both"
# One character over the handler's limit for proxy bodies (the largest image, base64-encoded).
OVERSIZED_BODY_CHARACTERS = 4 * MAX_IMAGE_BYTES // 3 + 5


@dataclass(frozen=True)
class Case:
    """One hostile request and the answer it must get.

    `event` builds the event from the running `HostileSite`; `message` is a
    fragment of the error message (None for a successful classification);
    `handler` names the configuration it runs on, `pretend` gives that handler
    a `PretendInternet`, `trust_certificate` makes it trust the site's TLS certificate.
    """

    id: str
    event: Callable[[HostileSite], object]
    status: int
    message: str | None
    handler: str = "loopback"
    pretend: bool = False
    trust_certificate: bool = False

    @property
    def proxied(self) -> bool:
        """Whether the event is an API Gateway proxy event (their ids say so)."""
        return self.id.startswith("proxy-")


def url(address: Callable[[HostileSite], str]) -> Callable[[HostileSite], dict]:
    """An event factory for a direct invocation `{"url": address(site)}`."""
    return lambda site: {"url": address(site)}


def redirect_to(target: str, status: int = 302) -> Callable[[HostileSite], dict]:
    """A direct invocation whose URL redirects once to `target`."""
    return url(lambda site: site.redirect_to(target, status))


def pretend_public(site: HostileSite, path: str) -> str:
    """A URL on `images.example`, the pretend public host served by the redirector."""
    return f"http://images.example:{site.redirector_port}{path}"


def image_bytes(name: str = "dress.jpg") -> bytes:
    return (IMAGES / name).read_bytes()


def b64(data: bytes) -> str:
    """`data` as the text of a JSON `image` field."""
    return base64.b64encode(data).decode("ascii")


@functools.cache
def bomb_base64() -> str:
    """A 30000x30000 PNG bomb as base64, made once (it takes half a second)."""
    return b64(png_bomb())


CASES = [
    # --- Server-side request forgery: every hop must lead to a public address.
    Case("metadata-address", url(lambda _: "http://169.254.169.254/latest/meta-data/"),
         403, f"{NON_PUBLIC} (169.254.169.254)"),
    Case("redirect-to-metadata-address",
         redirect_to("http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
         403, f"{NON_PUBLIC} (169.254.169.254)"),
    Case("redirect-308-to-metadata-address", redirect_to("http://169.254.169.254/", 308),
         403, f"{NON_PUBLIC} (169.254.169.254)"),
    Case("redirect-to-private-10.x", redirect_to("http://10.0.0.1/admin"),
         403, f"{NON_PUBLIC} (10.0.0.1)"),
    Case("redirect-to-ipv4-mapped-ipv6-metadata", redirect_to("http://[::ffff:169.254.169.254]/"),
         403, f"{NON_PUBLIC} (::ffff:"),
    Case("redirect-to-decimal-metadata-2852039166", redirect_to("http://2852039166/"),
         403, f"{NON_PUBLIC} (169.254.169.254)"),
    Case("redirect-to-octal-metadata-0251.0376.0251.0376",
         redirect_to("http://0251.0376.0251.0376/"), 403, f"{NON_PUBLIC} (169.254.169.254)"),
    Case("redirect-to-hex-metadata-0xa9fea9fe", redirect_to("http://0xa9fea9fe/"),
         403, f"{NON_PUBLIC} (169.254.169.254)"),
    Case("redirect-to-nat64-metadata", redirect_to("http://[64:ff9b::a9fe:a9fe]/"),
         403, NON_PUBLIC),
    Case("redirect-to-6to4-metadata", redirect_to("http://[2002:a9fe:a9fe::1]/"),
         403, NON_PUBLIC),
    Case("redirect-to-ipv6-unique-local", redirect_to("http://[fd00::1]/"),
         403, f"{NON_PUBLIC} (fd00::1)"),
    Case("unspecified-address-0.0.0.0", url(lambda site: f"http://0.0.0.0:{site.redirector_port}/"),
         403, f"{NON_PUBLIC} (0.0.0.0)"),
    # --- The loopback guard as deployed (ALLOW_LOOPBACK_URLS not set).
    Case("guard-on-127.0.0.1", url(lambda site: f"{site.files}/pants.jpg"),
         403, f"{NON_PUBLIC} (127.0.0.1)", handler="guarded"),
    Case("guard-on-localhost", url(lambda site: f"http://localhost:{site.redirector_port}/"),
         403, NON_PUBLIC, handler="guarded"),
    Case("guard-on-ipv6-loopback", url(lambda site: f"http://[::1]:{site.redirector_port}/"),
         403, f"{NON_PUBLIC} (::1)", handler="guarded"),
    Case("guard-on-short-form-127.1", url(lambda site: f"http://127.1:{site.redirector_port}/"),
         403, f"{NON_PUBLIC} (127.0.0.1)", handler="guarded"),
    Case("guard-on-public-host-control", url(lambda site: pretend_public(site, "/image/pants.jpg")),
         200, None, handler="guarded", pretend=True),
    Case("guard-on-public-host-redirects-to-localhost",
         url(lambda site: pretend_public(
             site, f"/to?url=http://localhost:{site.redirector_port}/image/pants.jpg")),
         403, NON_PUBLIC, handler="guarded", pretend=True),
    Case("guard-on-public-host-redirects-to-ipv6-loopback",
         url(lambda site: pretend_public(site, f"/to?url=http://[::1]:{site.redirector_port}/")),
         403, f"{NON_PUBLIC} (::1)", handler="guarded", pretend=True),
    Case("guard-on-host-with-a-public-and-a-private-address",
         url(lambda site: f"http://mixed.example:{site.redirector_port}/image/pants.jpg"),
         403, f"{NON_PUBLIC} (10.0.0.7)", handler="guarded", pretend=True),
    # --- Redirects: at most three, each checked like the first URL.
    Case("redirect-loop", url(lambda site: f"{site.redirector}/loop"), 422, TOO_MANY_REDIRECTS),
    Case("four-redirects", url(lambda site: f"{site.redirector}/hops/4?url={site.files}/pants.jpg"),
         422, TOO_MANY_REDIRECTS),
    Case("three-redirects-then-an-image",
         url(lambda site: f"{site.redirector}/hops/3?url={site.files}/pants.jpg"), 200, None),
    Case("relative-redirect", url(lambda site: f"{site.redirector}/relative"), 200, None),
    Case("redirect-to-malformed-url", redirect_to("http://[::1/pants.jpg"),
         422, "the image URL redirected to an unusable URL (Invalid IPv6 URL)"),
    Case("redirect-without-location", url(lambda site: f"{site.redirector}/nowhere"),
         422, "the image URL redirected without a location"),
    Case("redirect-to-file-scheme", redirect_to("file:///etc/passwd"), 422,
         f"the image URL redirected to an unusable URL ({ONLY_HTTP})"),
    Case("redirect-to-gopher-scheme", redirect_to("gopher://127.0.0.1:6379/_INFO"), 422,
         f"the image URL redirected to an unusable URL ({ONLY_HTTP})"),
    # --- Size limits: counted while streaming, whatever the headers say.
    Case("endless-100MB-body", url(lambda site: f"{site.flood}/endless"), 413, TOO_LARGE),
    Case("declared-100MB-content-length", url(lambda site: f"{site.flood}/declared"),
         413, TOO_LARGE),
    Case("chunked-100MB-body", url(lambda site: f"{site.flood}/chunked"), 413, TOO_LARGE),
    Case("content-length-too-small", url(lambda site: f"{site.liar}/content-length/short"),
         415, CORRUPT),
    Case("content-length-larger-than-the-body",
         url(lambda site: f"{site.liar}/content-length/long"), 200, None),
    Case("body-cut-short-of-its-content-length",
         url(lambda site: f"{site.liar}/content-length/cut-short"), 415, CORRUPT),
    Case("content-length-not-a-number",
         url(lambda site: f"{site.liar}/content-length/not-a-number"), 200, None),
    Case("content-length-superscript-two",
         url(lambda site: f"{site.liar}/content-length/superscript"), 200, None),
    Case("chunked-image", url(lambda site: f"{site.liar}/chunked/image"), 200, None),
    Case("broken-chunked-encoding", url(lambda site: f"{site.liar}/chunked/broken"),
         422, "could not download the image (IncompleteRead)"),
    # --- Time limits (shortened on the `quick` handler; the RIE runs use the real ones).
    Case("stalling-server", url(lambda site: f"{site.staller}/pants.jpg"),
         408, "the image host did not answer in time", handler="quick"),
    Case("body-drips-a-byte-per-second", url(lambda site: f"{site.dripper}/body"),
         408, "the download took longer than", handler="quick"),
    Case("headers-drip-a-byte-per-second", url(lambda site: f"{site.dripper}/headers"),
         408, "the download took longer than", handler="quick"),
    # --- TLS: certificates are checked, and the deadline holds inside TLS too.
    Case("https-trusted-certificate", url(lambda site: f"{site.tls_redirector}/image/pants.jpg"),
         200, None, trust_certificate=True),
    Case("https-untrusted-certificate", url(lambda site: f"{site.tls_redirector}/image/pants.jpg"),
         422, "could not download the image (SSLCertVerificationError)"),
    Case("https-redirect-to-metadata-address",
         url(lambda site: f"{site.tls_redirector}/to?url=http://169.254.169.254/"),
         403, f"{NON_PUBLIC} (169.254.169.254)", trust_certificate=True),
    Case("https-headers-drip-a-byte-per-second", url(lambda site: f"{site.tls_dripper}/headers"),
         408, "the download took longer than", handler="quick", trust_certificate=True),
    Case("https-server-never-starts-tls",
         url(lambda site: f"https://127.0.0.1:{site.staller_port}/pants.jpg"),
         408, "the image host did not answer in time", handler="quick"),
    Case("nothing-listening", url(lambda _: f"http://127.0.0.1:{free_port()}/pants.jpg"),
         422, "could not download the image (ConnectionRefusedError)"),
    Case("http-404", url(lambda site: f"{site.liar}/status/404"), 422, "answered HTTP 404"),
    Case("http-500", url(lambda site: f"{site.liar}/status/500"), 422, "answered HTTP 500"),
    # --- What comes back must be an image we accept, small enough to decode.
    Case("html-labelled-as-jpeg", url(lambda site: f"{site.liar}/content-type/html-as-jpeg"),
         415, NOT_AN_IMAGE),
    Case("html-page", url(lambda site: f"{site.files}/page.html"),
         415, "the URL returned text/html, not a JPEG, PNG or WebP image"),
    Case("no-content-type", url(lambda site: f"{site.liar}/content-type/missing"),
         415, "the URL returned no content type"),
    Case("gif-content-type", url(lambda site: f"{site.liar}/content-type/gif"),
         415, "the URL returned image/gif"),
    Case("gif-data-labelled-as-png", url(lambda site: f"{site.files}/gif-named.png"),
         415, NOT_AN_IMAGE),
    Case("empty-body", url(lambda site: f"{site.files}/empty.jpg"), 415, "the image is empty"),
    Case("truncated-jpeg", url(lambda site: f"{site.files}/truncated.jpg"), 415, CORRUPT),
    Case("png-bomb-30000x30000", url(lambda site: f"{site.files}/bomb.png"), 413, TOO_MANY_PIXELS),
    Case("png-of-30-megapixels", url(lambda site: f"{site.files}/30-megapixels.png"),
         413, TOO_MANY_PIXELS),
    Case("png-image", url(lambda site: f"{site.files}/shirt.png"), 200, None),
    Case("webp-image", url(lambda site: f"{site.files}/shoes.webp"), 200, None),
    # --- URLs refused before any network traffic.
    *[
        Case(f"{scheme}-scheme", url(lambda _, target=target: target), 400, ONLY_HTTP)
        for scheme, target in [
            ("file", "file:///etc/passwd"),
            ("ftp", "ftp://127.0.0.1/pants.jpg"),
            ("gopher", "gopher://127.0.0.1:6379/_FLUSHALL"),
            ("data", "data:image/jpeg;base64,/9j/4AAQSkZJRg=="),
            ("javascript", "javascript:alert(1)"),
        ]
    ],
    Case("unclosed-ipv6-bracket", url(lambda _: "http://[::1/pants.jpg"), 400, INVALID_URL),
    Case("port-out-of-range", url(lambda _: "http://127.0.0.1:99999/"), 400, INVALID_URL),
    Case("port-zero", url(lambda _: "http://127.0.0.1:0/pants.jpg"),
         422, "could not download the image"),
    Case("port-not-a-number", url(lambda _: "http://127.0.0.1:http/"), 400, INVALID_URL),
    Case("no-host", url(lambda _: "http:///pants.jpg"), 400, "the URL has no host name"),
    Case("credentials-in-url", url(lambda site: site.files.replace("//", "//user:secret@")),
         400, "URLs with credentials are not allowed"),
    Case("relative-url", url(lambda _: "pants.jpg"), 400, ONLY_HTTP),
    Case("null-byte-in-host", url(lambda site: f"{site.files}\x00.example/pants.jpg"),
         400, "'url' contains control characters"),
    Case("newline-in-url", url(lambda site: f"{site.files}/pants.jpg\r\nX-Injected: 1"),
         400, "'url' contains control characters"),
    Case("host-label-too-long", url(lambda _: f"http://{'a' * 70}.example/pants.jpg"),
         422, "could not resolve the host name"),
    Case("huge-url-string", url(lambda _: "http://127.0.0.1/" + "a" * 1_000_000),
         400, "'url' is longer than 2048 characters"),
    # --- Events of the wrong shape.
    Case("missing-url", lambda _: {"link": "pants.jpg"}, 400, "missing 'url'"),
    *[
        Case(f"url-is-{kind}", lambda _, value=value: {"url": value}, 400, NOT_A_STRING)
        for kind, value in [("number", 42), ("list", ["http://127.0.0.1/"]), ("null", None),
                            ("dict", {"href": "http://127.0.0.1/"}), ("true", True),
                            ("empty-string", ""), ("blank", "   ")]
    ],
    *[
        Case(f"event-is-{kind}", lambda _, value=value: value, 400, NOT_AN_OBJECT)
        for kind, value in [("list", ["http://127.0.0.1/pants.jpg"]), ("string", "pants.jpg"),
                            ("number", 3.5), ("null", None)]
    ],
    # --- The photo as base64 in a JSON `image` field, invoked directly.
    Case("image-base64-jpeg", lambda _: {"image": b64(image_bytes("pants.jpg"))}, 200, None),
    Case("image-and-url", lambda site: {"url": f"{site.files}/pants.jpg",
                                        "image": b64(image_bytes())}, 400, URL_AND_IMAGE),
    *[
        Case(f"image-is-{kind}", lambda _, value=value: {"image": value}, 400, IMAGE_NOT_A_STRING)
        for kind, value in [("number", 42), ("list", [b64(b"x")]), ("null", None),
                            ("dict", {"data": b64(b"x")}), ("true", True), ("empty-string", "")]
    ],
    *[
        Case(f"image-{kind}", lambda _, value=value: {"image": value}, 400, IMAGE_NOT_BASE64)
        for kind, value in [
            ("file-name", "pants.jpg"),
            ("data-url", "data:image/jpeg;base64," + b64(image_bytes())),
            ("with-line-breaks", base64.encodebytes(image_bytes()).decode()),
            ("url-safe-alphabet", base64.urlsafe_b64encode(b"\xfb\xff" * 300).decode()),
            ("missing-padding", b64(image_bytes("pants.jpg")).rstrip("=")),  # it ends in "=="
            ("only-padding", "===="),
        ]
    ],
    Case("image-one-byte-over-the-limit", lambda _: {"image": b64(bytes(MAX_IMAGE_BYTES + 1))},
         413, TOO_LARGE),
    Case("image-text-over-the-body-limit", lambda _: {"image": "A" * OVERSIZED_BODY_CHARACTERS},
         413, TOO_LARGE),
    Case("image-base64-of-text", lambda _: {"image": b64(b"shopping list")}, 415, NOT_AN_IMAGE),
    Case("image-base64-of-one-zero-byte", lambda _: {"image": "AA=="}, 415, NOT_AN_IMAGE),
    Case("image-base64-truncated-jpeg", lambda _: {"image": b64(image_bytes()[:3000])},
         415, CORRUPT),
    Case("image-base64-png-bomb", lambda _: {"image": bomb_base64()}, 413, TOO_MANY_PIXELS),
    # --- API Gateway proxy events (v1: REST API, v2: HTTP API and function URLs).
    Case("proxy-v1-json-url", lambda site: proxy_event(1, {"url": f"{site.files}/pants.jpg"}),
         200, None),
    Case("proxy-v2-json-url", lambda site: proxy_event(2, {"url": f"{site.files}/pants.jpg"}),
         200, None),
    Case("proxy-v2-base64-json-url",
         lambda site: proxy_event(2, {"url": f"{site.files}/pants.jpg"}, base64_encoded=True),
         200, None),
    Case("proxy-v1-base64-image",
         lambda _: proxy_event(1, image_bytes(), content_type="image/jpeg", base64_encoded=True),
         200, None),
    Case("proxy-v2-base64-image",
         lambda _: proxy_event(2, image_bytes("hat.jpg"), content_type="image/jpeg",
                               base64_encoded=True),
         200, None),
    Case("proxy-v1-json-image",
         lambda _: proxy_event(1, {"image": b64(image_bytes("shoes.jpg"))}), 200, None),
    Case("proxy-v2-base64-json-image",
         lambda _: proxy_event(2, {"image": b64(image_bytes())}, base64_encoded=True), 200, None),
    Case("proxy-v2-json-image-not-base64", lambda _: proxy_event(2, {"image": "pants.jpg"}),
         400, IMAGE_NOT_BASE64),
    Case("proxy-v1-json-image-and-url",
         lambda _: proxy_event(1, {"image": b64(image_bytes()), "url": "http://127.0.0.1/"}),
         400, URL_AND_IMAGE),
    Case("proxy-v2-json-image-of-text", lambda _: proxy_event(2, {"image": b64(b"<html>")}),
         415, NOT_AN_IMAGE),
    Case("proxy-v1-json-image-over-the-body-limit",
         lambda _: proxy_event(1, {"image": b64(bytes(MAX_IMAGE_BYTES))}),
         413, f"the request body is larger than {MAX_IMAGE_BYTES} bytes"),
    Case("proxy-v2-json-url-to-metadata",
         lambda _: proxy_event(2, {"url": "http://169.254.169.254/latest/meta-data/"}),
         403, f"{NON_PUBLIC} (169.254.169.254)"),
    Case("proxy-v1-json-without-url", lambda _: proxy_event(1, {"link": "x"}),
         400, "missing 'url'"),
    Case("proxy-v2-json-array", lambda _: proxy_event(2, ["x"]), 400, NOT_AN_OBJECT),
    Case("proxy-v1-non-json-body", lambda _: proxy_event(1, "url=http://127.0.0.1/pants.jpg"),
         400, BODY_NOT_JSON),
    Case("proxy-v2-deeply-nested-json", lambda _: proxy_event(2, "[" * 100_000),
         400, BODY_NOT_JSON),
    Case("proxy-v1-no-body", lambda _: proxy_event(1, None), 400, "the request has no body"),
    Case("proxy-v2-body-not-a-string", lambda _: {**proxy_event(2, None), "body": {"url": "x"}},
         400, "the request body must be a string"),
    Case("proxy-v2-invalid-base64", lambda _: proxy_event(2, "not base64!", base64_encoded=True),
         400, "the body is marked base64 but is not valid base64"),
    Case("proxy-v1-body-over-the-limit", lambda _: proxy_event(1, "x" * OVERSIZED_BODY_CHARACTERS),
         413, f"the request body is larger than {MAX_IMAGE_BYTES} bytes"),
    Case("proxy-v2-base64-body-over-the-limit",
         lambda _: proxy_event(2, bytes(MAX_IMAGE_BYTES + 10), content_type="image/jpeg",
                               base64_encoded=True),
         413, f"the request body is larger than {MAX_IMAGE_BYTES} bytes"),
    Case("proxy-v2-text-body-labelled-as-image",
         lambda _: proxy_event(2, "hello", content_type="image/jpeg"), 415, NOT_AN_IMAGE),
    Case("proxy-v2-base64-truncated-jpeg",
         lambda _: proxy_event(2, image_bytes()[:3000], content_type="image/jpeg",
                               base64_encoded=True),
         415, CORRUPT),
]

# The cases that run again under the RIE, in each Lambda environment.
RIE_CASES = [
    "redirect-to-metadata-address", "redirect-to-decimal-metadata-2852039166", "redirect-loop",
    "endless-100MB-body", "stalling-server", "html-labelled-as-jpeg", "png-bomb-30000x30000",
    "truncated-jpeg", "file-scheme", "event-is-list", "proxy-v1-json-url",
    "proxy-v2-base64-image", "proxy-v2-invalid-base64", "image-base64-jpeg", "image-and-url",
    "proxy-v1-json-image",
]
CASES_BY_ID = {case.id: case for case in CASES}


@pytest.fixture(scope="module")
def site():
    with hostile_site() as running:
        yield running


@pytest.fixture(scope="module")
def handlers():
    """The function instances the cases run on, by configuration name."""
    return {name: load_configured(name) for name in CONFIGURATIONS}


def invoke(handler, event, request_id: str = "test-request"):
    """Call the handler in this process as Lambda would, with a minimal context."""
    context = type("Context", (), {"aws_request_id": request_id})()
    return handler.lambda_handler(event, context)


def test_the_table_is_large_and_its_ids_unique():
    assert len(CASES) >= 30
    assert len(CASES_BY_ID) == len(CASES)
    assert set(RIE_CASES) <= set(CASES_BY_ID)


def check_answer(case: Case, response, seconds: float, deadline: float) -> None:
    """The answer to `case` is well-formed, has the status and message of the table, and came
    by the download deadline (plus the time to clean up), whatever the server did."""
    answer = read_answer(response, proxied=case.proxied)
    assert answer.status == case.status, answer.document
    if case.message:
        assert case.message in answer.message, answer.document
    assert seconds < deadline + 1, f"took {seconds:.1f} s"


def skip_without_certificate(case: Case, site: HostileSite) -> None:
    if case.id.startswith("https-") and site.certificate is None:
        pytest.skip("the TLS cases need the openssl command to make a certificate")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_case(case, site, handlers):
    function = handlers[case.handler]
    skip_without_certificate(case, site)
    certificate = str(site.certificate) if case.trust_certificate else None
    event = case.event(site)
    with case_conditions(function, pretend=case.pretend, certificate=certificate):
        started = time.monotonic()
        response = invoke(function, event)
        seconds = time.monotonic() - started
    check_answer(case, response, seconds, function.source.DOWNLOAD_DEADLINE_SECONDS)


# --- The same table in each Lambda environment's own Python (tests/handler/handler_runner.py).


@pytest.fixture(scope="module", params=LAMBDA_FLAVOURS)
def lambda_env_runner(request):
    """`handler_runner.py` in the Lambda environment `request.param`, answering one case a line."""
    runner = subprocess.Popen(
        [str(lambda_python(request.param)), str(TESTS / "handler" / "handler_runner.py")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={"PYTHONPATH": f"{TESTS / 'handler'}:{ROOT / 'src'}", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    yield runner
    runner.stdin.close()
    runner.wait(timeout=30)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_case_in_the_lambda_environment(case, site, lambda_env_runner):
    skip_without_certificate(case, site)
    request = {
        "handler": case.handler, "pretend": case.pretend, "event": case.event(site),
        "certificate": str(site.certificate) if case.trust_certificate else None,
    }
    lambda_env_runner.stdin.write(json.dumps(request) + "\n")
    lambda_env_runner.stdin.flush()
    reply = json.loads(lambda_env_runner.stdout.readline())
    check_answer(case, reply["response"], reply["seconds"], reply["deadline"])


def test_a_flood_is_cut_off_after_the_limit_without_the_server_sending_it_all(
    site, handlers, capsys
):
    sent_before = site.flood_traffic.bytes_sent
    started = time.perf_counter()
    answer = read_answer(invoke(handlers["loopback"], {"url": f"{site.flood}/endless"}), False)
    seconds = time.perf_counter() - started
    sent = site.flood_traffic.bytes_sent - sent_before
    [log_line] = capsys.readouterr().out.splitlines()
    assert answer.status == 413
    assert MAX_IMAGE_BYTES < json.loads(log_line)["bytes_fetched"] <= MAX_IMAGE_BYTES + 64 * 1024
    assert sent < FLOOD_BYTES / 4, f"the server sent {sent} bytes"
    assert seconds < 5, f"took {seconds:.1f} s"


def test_an_unexpected_error_is_a_plain_500_with_the_traceback_in_the_log(
    site, handlers, monkeypatch, capsys
):
    handler = handlers["loopback"]

    def broken_classify(image):
        raise RuntimeError("secret detail from /var/task")

    monkeypatch.setattr(handler.handler, "classify", broken_classify)
    for proxied, event in [
        (False, {"url": f"{site.files}/pants.jpg"}),
        (True, proxy_event(2, image_bytes(), content_type="image/jpeg", base64_encoded=True)),
    ]:
        response = invoke(handler, event, request_id="broken-1")
        answer = read_answer(response, proxied)
        assert answer.document == {"error": {"status": 500, "message": "internal error"}}
        assert "secret" not in json.dumps(response)
        [log_line] = capsys.readouterr().out.splitlines()
        record = json.loads(log_line)
        assert record["outcome"] == "error" and record["status"] == 500
        assert record["request_id"] == "broken-1"
        assert "secret detail from /var/task" in record["error"]
        assert record["traceback"].startswith("Traceback (most recent call last)")
        assert "broken_classify" in record["traceback"]


def test_each_request_writes_exactly_one_json_log_line(site, handlers, capsys):
    events = {
        "ok": {"url": f"{site.files}/pants.jpg"},
        "rejected": {"url": "http://169.254.169.254/"},
        "rejected-proxy": proxy_event(1, "not json"),
        "ok-proxy": proxy_event(2, image_bytes(), content_type="image/jpeg", base64_encoded=True),
    }
    for name, event in events.items():
        invoke(handlers["loopback"], event, request_id=f"request-{name}")
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 1, lines
        record = json.loads(lines[0])
        assert {"request_id", "outcome", "status", "duration_ms", "bytes_fetched"} <= set(record)
        assert record["request_id"] == f"request-{name}"
        assert record["outcome"] == name.removesuffix("-proxy")
        assert (record["status"] == 200) == (record["outcome"] == "ok")
        assert isinstance(record["duration_ms"], float) and record["duration_ms"] >= 0
        expected_bytes = {"ok": (IMAGES / "pants.jpg").stat().st_size, "rejected": 0,
                          "rejected-proxy": 0, "ok-proxy": len(image_bytes())}[name]
        assert record["bytes_fetched"] == expected_bytes


# --- The same answers under the real Runtime Interface Emulator.


@pytest.fixture(scope="module", params=LAMBDA_FLAVOURS)
def emulated(request):
    with local_function(request.param, model=MODEL) as function:
        yield function


@pytest.mark.parametrize("case_id", RIE_CASES)
def test_the_rie_gives_the_same_answer(emulated, site, case_id):
    case = CASES_BY_ID[case_id]
    reply = emulated.invoke(case.event(site))
    assert reply.status == 200, reply.text
    assert "Traceback" not in reply.text and "stackTrace" not in reply.text, reply.text
    answer = read_answer(reply.json(), case.proxied)
    assert answer.status == case.status, answer.document
    if case.message:
        assert case.message in answer.message, answer.document


def test_the_rie_log_has_one_json_line_per_invocation(emulated, site):
    def records():
        lines = emulated.logs().splitlines()
        return [json.loads(line) for line in lines if line.startswith('{"request_id"')]

    before, reports_before = len(records()), len(emulated.reports())
    for event in [{"url": f"{site.files}/pants.jpg"}, {"url": "file:///etc/passwd"}, [1, 2]]:
        emulated.invoke(event)
    # The emulator may write its REPORT line just after the answer has gone out.
    deadline = time.monotonic() + 10
    while len(emulated.reports()) < reports_before + 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    new, reports = records()[before:], emulated.reports()[reports_before:]
    assert [record["request_id"] for record in new] == [report["request_id"] for report in reports]
    assert [(record["outcome"], record["status"]) for record in new] == [
        ("ok", 200), ("rejected", 400), ("rejected", 400)
    ]
    for record in new:
        assert {"request_id", "outcome", "status", "duration_ms", "bytes_fetched"} <= set(record)
