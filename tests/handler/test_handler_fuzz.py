"""Property-based fuzzing of the exported handler: whatever the event, a well-formed answer.

Hypothesis generates arbitrary JSON events, `{"url": ...}` documents with random
URLs (random schemes, hosts in every notation, ports, credentials, unicode and
lone surrogates, as JSON can carry them), `{"image": ...}` documents with the
base64 of damaged images or any other value, and API Gateway v1 and v2 proxy
events with random headers, bodies and `isBase64Encoded` flags, some of them
carrying damaged JPEG, PNG and WebP images, as the body or as base64 in JSON. For every event:

- the handler returns, it never raises;
- the answer is well-formed (`handler_harness.read_answer`): a prediction or
  `{"error": {"status", "message"}}`, wrapped in a JSON HTTP response for proxy
  events;
- the status is 200 or 4xx, never 500: a 500 means the handler met something it
  did not expect, which is a bug, and its traceback is shown;
- exactly one JSON log line is written.

Keeping the network out: the function instance runs as deployed (loopback
refused), with a `PretendInternet` as the `socket` module of its image_source.
Host names resolve to 192.0.2.1 (TEST-NET-1, refused as non-public) without
any DNS query; IP literals resolve numerically, exactly as the system would,
and are refused unless public; the few connections that remain (to public IP
literals other than the pretend public address) fail at once with `NoInternet`
inside the process. So every URL goes through every
check up to the connection, and nothing the fuzzer makes can reach the internet.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json

import hypothesis
import pytest
from handler_harness import PretendInternet, load_handler, read_answer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from serverless_dl.base.paths import IMAGES

FUZZ_SETTINGS = settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# Text as JSON can deliver it, lone surrogates included; and text without control characters.
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
printable_text = st.text(st.characters(categories=["L", "M", "N", "P", "S", "Zs"]), max_size=30)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(any_text, children, max_size=4),
    max_leaves=12,
)

# Dictionaries made of the keys the handler looks at, with any values.
handler_keys = st.fixed_dictionaries({}, optional={
    key: json_values
    for key in ("url", "image", "body", "headers", "isBase64Encoded", "requestContext",
                "httpMethod", "version")
})

def mostly(usual, unusual):
    """A strategy that draws from `usual` four times out of five, else from `unusual`."""
    return st.integers(0, 4).flatmap(lambda roll: unusual if roll == 0 else usual)


# URLs are built to pass the first checks more often than not, so that the later checks
# (resolution, address guards) are reached too; odd schemes, ports and paths still come up.
schemes = mostly(
    st.sampled_from(["http", "https"]),
    st.sampled_from(["HTTP", "hTtPs", "file", "ftp", "gopher", "data", "javascript", "ws", ""])
    | printable_text.map(lambda text: text[:6]),
)
hosts = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda address: f"[{address}]"),
    st.ip_addresses(v=6).map(str),
    st.sampled_from([
        "169.254.169.254", "2852039166", "0251.0376.0251.0376", "0xa9fea9fe", "127.1",
        "localhost", "[::1]", "[::ffff:127.0.0.1]", "[64:ff9b::a9fe:a9fe]", "[2002:a9fe:a9fe::1]",
        "[fe80::1%25eth0]", "0", "0.0.0.0", "example.com", "xn--nxasmq6b.example",
        "ex\N{LATIN SMALL LETTER A WITH DIAERESIS}mple.example", "a" * 70 + ".example", "[", "]",
    ]),
    st.from_regex(r"[a-z0-9-]{1,20}(\.[a-z0-9-]{1,10}){0,3}", fullmatch=True),
    # An IP literal, then junk: the resolver may read only up to a NUL or a space.
    st.tuples(
        st.ip_addresses(v=4).map(str),
        st.sampled_from(["\x00", "\x00.example", " x", "\t", "\r\nX: 1", ".", "%00"]) | any_text,
    ).map("".join),
    printable_text,
    any_text,
)
ports = mostly(st.none(), st.integers(-5, 70_000).map(str) | printable_text)
paths = mostly(st.from_regex(r"[A-Za-z0-9/._~%?=&-]{0,30}", fullmatch=True),
               printable_text | any_text)
credentials = mostly(st.just(""), st.sampled_from(["user@", "user:secret@", "@", ":@"]))
urls = st.builds(
    lambda scheme, credentials, host, port, path: (
        f"{scheme}://{credentials}{host}{'' if port is None else ':' + port}/{path}"
    ),
    schemes, credentials, hosts, ports, paths,
)
# Whatever a `url` field may hold: mostly URLs, then any text, then any JSON value.
url_values = mostly(urls, any_text | json_values)


def encoded(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


SAMPLE = Image.open(IMAGES / "hat.jpg").convert("RGB").resize((32, 32))
SMALL_IMAGES = [encoded(SAMPLE, image_format) for image_format in ("JPEG", "PNG", "WEBP")]


@st.composite
def damaged_images(draw) -> bytes:
    """A small JPEG, PNG or WebP, cut short, with bytes overwritten, or with garbage around it."""
    data = bytearray(draw(st.sampled_from(SMALL_IMAGES)))
    for position, value in draw(st.lists(st.tuples(st.integers(0, len(data) - 1),
                                                   st.integers(0, 255)), max_size=4)):
        data[position] = value
    data = data[: draw(st.integers(0, len(data)))] if draw(st.booleans()) else data
    garbage = mostly(st.just(b""), st.binary(min_size=1, max_size=8))
    return draw(garbage) + bytes(data) + draw(garbage)


def as_base64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# Whatever an `image` field may hold: mostly the base64 of a damaged image, then base64 with
# a prefix or line breaks, any text, or any JSON value.
image_values = mostly(
    damaged_images().map(as_base64),
    damaged_images().map(lambda data: "data:image/jpeg;base64," + as_base64(data))
    | damaged_images().map(lambda data: base64.encodebytes(data).decode())
    | any_text
    | json_values,
)

content_types = st.sampled_from([
    "application/json", "image/jpeg", "image/png", "image/webp", "IMAGE/JPEG; q=1", "image/",
    "text/plain", "",
]) | any_text
headers = st.dictionaries(
    st.sampled_from(["content-type", "Content-Type", "CONTENT-TYPE", "accept"]) | any_text,
    content_types | json_values,
    max_size=3,
) | json_values
bodies = st.one_of(
    st.none(),
    any_text,
    st.builds(lambda url: json.dumps({"url": url}), url_values),
    st.builds(lambda image: json.dumps({"image": image}), image_values),
    damaged_images().map(lambda data: base64.b64encode(data).decode()),
    st.binary(max_size=64).map(lambda data: base64.b64encode(data).decode()),
    st.integers(0, 100_000).map(lambda depth: "[" * depth + "]" * depth),  # deeply nested JSON
    json_values,
)


@st.composite
def proxy_events(draw) -> dict:
    """A REST API (v1) or HTTP API (v2) proxy event with random headers, body and flags."""
    event = {
        "headers": draw(headers),
        "body": draw(bodies),
        "isBase64Encoded": draw(st.booleans() | json_values),
        "requestContext": draw(st.just({"stage": "fuzz"}) | json_values),
    }
    if draw(st.booleans()):
        event.update(httpMethod=draw(st.sampled_from(["POST", "GET"]) | json_values), path="/")
    else:
        event.update(version="2.0", routeKey="POST /predict", rawPath="/predict")
    return event


@pytest.fixture(scope="module")
def handler():
    """The handler as deployed (loopback refused), with no way out to the network."""
    instance = load_handler(allow_loopback=False)
    instance.source.socket = PretendInternet()
    return instance


def is_proxy_event(event) -> bool:
    """API Gateway's shapes: a request context, and a v1 HTTP method or the v2 version."""
    return isinstance(event, dict) and "requestContext" in event and (
        "httpMethod" in event or event.get("version") == "2.0"
    )


def check_handler_answers(handler, event) -> None:
    """Invoke the handler on `event` and check the properties listed in the module docstring."""
    log = io.StringIO()
    context = type("Context", (), {"aws_request_id": "fuzz"})()
    with contextlib.redirect_stdout(log):
        response = handler.lambda_handler(event, context)
    log_lines = log.getvalue().splitlines()
    assert len(log_lines) == 1, log_lines
    record = json.loads(log_lines[0])
    assert record["outcome"] != "error", record.get("traceback")
    answer = read_answer(response, proxied=is_proxy_event(event))
    assert answer.status != 500 and answer.status == record["status"], answer.document
    hypothesis.event(f"{answer.status} {answer.message[:50]}")  # see --hypothesis-show-statistics


@FUZZ_SETTINGS
@given(event=json_values | handler_keys)
def test_any_json_event_gets_a_well_formed_answer(handler, event):
    check_handler_answers(handler, event)


@FUZZ_SETTINGS
@given(url=url_values, extra=st.dictionaries(any_text, json_values, max_size=2))
def test_any_url_gets_a_well_formed_answer(handler, url, extra):
    check_handler_answers(handler, {**extra, "url": url})


@FUZZ_SETTINGS
@given(image=image_values, extra=st.dictionaries(any_text, json_values, max_size=2))
def test_any_image_field_gets_a_well_formed_answer(handler, image, extra):
    check_handler_answers(handler, {**extra, "image": image})


@FUZZ_SETTINGS
@given(event=proxy_events())
def test_any_proxy_event_gets_a_well_formed_answer(handler, event):
    check_handler_answers(handler, event)


@FUZZ_SETTINGS
@given(data=damaged_images(), version=st.sampled_from(["v1", "v2"]))
def test_damaged_images_are_refused_or_classified_never_crash(handler, data, version):
    event = {
        "headers": {"Content-Type": "image/jpeg"},
        "body": base64.b64encode(data).decode(),
        "isBase64Encoded": True,
        "requestContext": {},
        **({"httpMethod": "POST"} if version == "v1" else {"version": "2.0"}),
    }
    check_handler_answers(handler, event)
