"""Misbehaving web servers on 127.0.0.1 (course plumbing for lesson 05 and the tests).

Each request handler class below breaks one rule that a well-behaved image host
follows: it redirects where it should not, lies in its headers, sends far too
much, or takes forever. `hostile_site()` serves all of them at once, plus a
folder of crafted image files, and yields their base URLs. Two more play the
services an attacker hopes to reach through the function: `InternalService`
(an API inside your network) and `MetadataService` (the EC2 instance metadata
service, answering as AWS documents it, with AWS's example keys).

The redirector and the dripper are also served over TLS, with a self-signed
certificate for 127.0.0.1 made by the `openssl` command (when it is installed):
a handler under test trusts it when `SSL_CERT_FILE` names it.

Handlers that wait (the staller, the drippers) wait on a `threading.Event`
that is set when the site closes, so no test leaves a thread sleeping behind it,
and each gives up on its own after `GIVE_UP_SECONDS` should a handler under test
never hang up.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import shutil
import ssl
import struct
import tempfile
import threading
import urllib.parse
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from serverless_dl.base.commands import run_command
from serverless_dl.base.paths import IMAGES
from serverless_dl.function.imageserver import serve, serve_directory

FLOOD_BYTES = 100 * 1024 * 1024
FLOOD_CHUNK = 64 * 1024
DRIP_INTERVAL_SECONDS = 1.0
GIVE_UP_SECONDS = 60
BOMB_SIDE = 30_000
SAMPLE = IMAGES / "pants.jpg"


@dataclass
class Traffic:
    """How many bytes a server managed to send, counted across its threads."""

    bytes_sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, count: int) -> None:
        """Count `count` more bytes sent (threads call this concurrently)."""
        with self._lock:
            self.bytes_sent += count


class HostileHandler(http.server.BaseHTTPRequestHandler):
    """Quiet base class: raw writes that notice a hung-up client, and a release event."""

    # Both are replaced by a fresh pair for every server that `serve_hostile` starts.
    release = threading.Event()
    traffic = Traffic()

    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        """Say nothing: the tests read traffic counts, not request logs."""
        pass

    def send_raw(self, data: bytes) -> bool:
        """Write `data` to the client at once; False when the client has hung up."""
        try:
            self.wfile.write(data)
        except OSError:
            return False
        self.traffic.add(len(data))
        return True

    def answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        """Send a complete response with exactly the headers given, then hang up."""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.send_raw(body)

    def query(self, name: str) -> str:
        """One query parameter of the request, or ''."""
        values = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get(name)
        return values[0] if values else ""

    @property
    def route(self) -> str:
        """The request path without its query string."""
        return urllib.parse.urlsplit(self.path).path


class Redirector(HostileHandler):
    """Redirects: anywhere, in chains, in circles, without a Location, relatively.

    - `/to?url=U[&status=S]`: one redirect to U (status 302 unless S is given).
    - `/hops/N?url=U`: N redirects in all, the last one to U.
    - `/loop`: redirects to itself for ever.
    - `/nowhere`: a 302 without a Location header.
    - `/relative`: a Location relative to the current page, which leads to `/image/pants.jpg`.
    - `/image/NAME`: a sample image, so redirects can end somewhere good.
    """

    def do_GET(self):
        """Answer with the redirect the path asks for."""
        route, target = self.route, self.query("url")
        if route == "/to":
            self.redirect(target, int(self.query("status") or 302))
        elif route.startswith("/hops/"):
            hops = int(route.removeprefix("/hops/"))
            self.redirect(target if hops <= 1 else f"/hops/{hops - 1}?url={quote(target)}")
        elif route == "/loop":
            self.redirect("/loop")
        elif route == "/nowhere":
            self.answer(302, b"", {"Content-Length": "0"})
        elif route == "/relative":
            self.redirect("image/pants.jpg")
        elif route.startswith("/image/"):
            body = (IMAGES / Path(route).name).read_bytes()
            self.answer(200, body, {"Content-Type": "image/jpeg", "Content-Length": str(len(body))})
        else:
            self.answer(404, b"no such route", {"Content-Type": "text/plain"})

    def redirect(self, location: str, status: int = 302) -> None:
        """Redirect to `location` with `status` and an empty body."""
        self.answer(status, b"", {"Location": location, "Content-Length": "0"})


class Liar(HostileHandler):
    """Headers that do not match the body, bodies that break HTTP, unhelpful statuses.

    - `/content-length/{short,long,not-a-number,superscript}`: a good JPEG whose
      Content-Length is too small, too large, `many`, or `²` (a digit to
      `str.isdigit`, not to `int`).
    - `/content-length/cut-short`: half a JPEG, though the Content-Length promised all of it.
    - `/content-type/{html-as-jpeg,missing,gif}`: a body that is not what the type says.
    - `/chunked/{image,broken}`: a JPEG in chunked encoding; a chunk size that is not hex.
    - `/status/CODE`: that status, with a short text body.
    """

    protocol_version = "HTTP/1.1"  # chunked encoding needs it

    def do_GET(self):
        """Answer with the lie the path names."""
        image = SAMPLE.read_bytes()
        lies = {
            "/content-length/short": ("image/jpeg", "100", image),
            "/content-length/long": ("image/jpeg", str(2 * len(image)), image),
            "/content-length/cut-short": ("image/jpeg", str(len(image)), image[: len(image) // 2]),
            "/content-length/not-a-number": ("image/jpeg", "many", image),
            "/content-length/superscript": ("image/jpeg", "\N{SUPERSCRIPT TWO}", image),
            "/content-type/html-as-jpeg": ("image/jpeg", None, b"<html><body>hi</body></html>"),
            "/content-type/missing": (None, None, image),
            "/content-type/gif": ("image/gif", None, gif_bytes()),
        }
        if self.route in lies:
            content_type, length, body = lies[self.route]
            headers = {"Content-Length": length or str(len(body))}
            if content_type:
                headers["Content-Type"] = content_type
            self.answer(200, body, headers)
        elif self.route == "/chunked/image":
            self.send_chunked([image[start:start + 1000] for start in range(0, len(image), 1000)])
        elif self.route == "/chunked/broken":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            self.send_raw(b"zz\r\nnot a chunk\r\n0\r\n\r\n")
        elif self.route.startswith("/status/"):
            status = int(self.route.removeprefix("/status/"))
            self.answer(status, b"nothing to see", {"Content-Type": "text/plain"})
        else:
            self.answer(404, b"no such route", {"Content-Type": "text/plain"})

    def send_chunked(self, chunks) -> int:
        """Send `chunks` in chunked transfer encoding; return how many went out."""
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        for chunk in chunks:
            if not self.send_raw(b"%x\r\n%s\r\n" % (len(chunk), chunk)):
                return sent
            sent += 1
        self.send_raw(b"0\r\n\r\n")
        return sent


class Flood(Liar):
    """100 MB bodies, produced lazily: the server only sends what the client reads.

    - `/endless`: no Content-Length, a JPEG type, then 100 MB.
    - `/declared`: an honest `Content-Length: 104857600`, then 100 MB.
    - `/chunked`: 100 MB in chunked encoding.

    `traffic.bytes_sent` shows how much actually left the server.
    """

    def do_GET(self):
        """Send the 100 MB body the path names (endless, declared or chunked)."""
        if self.route == "/chunked":
            self.send_chunked(flood_chunks())
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        if self.route == "/declared":
            self.send_header("Content-Length", str(FLOOD_BYTES))
        self.send_header("Connection", "close")
        self.end_headers()
        for chunk in flood_chunks():
            if not self.send_raw(chunk):
                return


class Staller(HostileHandler):
    """Accepts the connection, reads nothing, answers nothing, until released."""

    def handle(self):
        """Hold the connection without reading or answering until released."""
        self.release.wait(GIVE_UP_SECONDS)


class Dripper(HostileHandler):
    """Answers one byte per `DRIP_INTERVAL_SECONDS`, so no single read ever times out.

    - `/body`: complete headers (a JPEG of 1 MB is announced), then the body byte by byte.
    - `/headers`: the status line, then a header that never ends, byte by byte.
    """

    def do_GET(self):
        """Drip the headers or the body, a byte at a time."""
        if self.route == "/body":
            start = (b"HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\n"
                     b"Content-Length: 1048576\r\n\r\n")
        else:
            start = b"HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\nX-Padding: "
        if not self.send_raw(start):
            return
        for _ in range(int(GIVE_UP_SECONDS / DRIP_INTERVAL_SECONDS)):
            if self.release.wait(DRIP_INTERVAL_SECONDS) or not self.send_raw(b"a"):
                return


class InternalService(HostileHandler):
    """An API that only callers inside your network should reach: whatever you ask, it tells."""

    def do_GET(self):
        """Answer every path with the internal API's secrets."""
        body = json.dumps({"service": "internal admin API", "path": self.route,
                           "secret": "for callers inside the VPC only"}).encode()
        self.answer(200, body, {"Content-Type": "application/json"})


# The example keys of AWS's documentation: a stand-in must never hold real credentials.
EXAMPLE_ROLE = "clothing-classifier-role"
EXAMPLE_CREDENTIALS = {
    "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
    "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "Token": "token",
}


class MetadataService(HostileHandler):
    """The EC2 instance metadata service (IMDSv1, no token needed) with an instance role."""

    def do_GET(self):
        """Answer as the metadata service: the role's name, then its credentials."""
        prefix = "/latest/meta-data/iam/security-credentials/"
        if self.route == prefix:
            self.answer(200, EXAMPLE_ROLE.encode(), {"Content-Type": "text/plain"})
        elif self.route == prefix + EXAMPLE_ROLE:
            body = json.dumps(EXAMPLE_CREDENTIALS).encode()
            self.answer(200, body, {"Content-Type": "application/json"})
        else:
            self.answer(404, b"Not Found", {"Content-Type": "text/plain"})


def quote(text: str) -> str:
    """`text` escaped for use as a query parameter value."""
    return urllib.parse.quote(text, safe="")


def flood_chunks() -> Iterator[bytes]:
    """`FLOOD_BYTES` of JPEG-looking data, one chunk at a time (never held in memory)."""
    chunk = b"\xff\xd8\xff\xe0" + bytes(FLOOD_CHUNK - 4)
    for _ in range(FLOOD_BYTES // FLOOD_CHUNK):
        yield chunk
        chunk = bytes(FLOOD_CHUNK)


def gif_bytes() -> bytes:
    """A small valid GIF: an image, but not a format the handler accepts."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="GIF")
    return buffer.getvalue()


def png_bomb(width: int = BOMB_SIDE, height: int = BOMB_SIDE) -> bytes:
    """A valid greyscale PNG of `width` x `height` zero pixels, under 1 MB on disk.

    Decoded it would take width x height bytes (900 MB for the default, 2.7 GB
    as RGB). Compressing that much would take seconds, so one block of rows is
    compressed once and repeated: a full flush makes each copy independent of
    the ones before it, which keeps the stream valid.
    """
    rows_per_block = 100
    block = bytes(width + 1) * rows_per_block  # each row: filter type 0, then the pixels
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    segment = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    deflated = segment * (height // rows_per_block)
    deflated += zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # the final, empty block
    checksum = 1
    for _ in range(height // rows_per_block):
        checksum = zlib.adler32(block, checksum)
    image_data = b"\x78\xda" + deflated + struct.pack(">I", checksum)

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", image_data)
        + chunk(b"IEND", b"")
    )


def write_image_files(folder: Path) -> None:
    """Crafted files, served with the content type their extension implies.

    Good ones (`pants.jpg`, `shirt.png`, `shoes.webp`) and bad ones: a truncated
    JPEG, an empty file, an HTML page, a GIF named `.png`, a PNG bomb, a PNG of 30
    megapixels (just over the handler's limit) and one of 64 megapixels (just under
    the limit at which Pillow itself starts to warn).
    """
    jpeg = SAMPLE.read_bytes()
    shutil.copyfile(SAMPLE, folder / "pants.jpg")
    Image.open(IMAGES / "shirt.jpg").save(folder / "shirt.png")
    Image.open(IMAGES / "shoes.jpg").save(folder / "shoes.webp")
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "page.html").write_text("<!doctype html><title>Not an image</title><p>Hello</p>")
    (folder / "gif-named.png").write_bytes(gif_bytes())
    (folder / "bomb.png").write_bytes(png_bomb())
    (folder / "30-megapixels.png").write_bytes(png_bomb(6000, 5000))
    (folder / "64-megapixels.png").write_bytes(png_bomb(8000, 8000))


class TLSHandler(HostileHandler):
    """Mixin: speak TLS with `tls_context` on the accepted connection, then HTTP as usual."""

    tls_context: ssl.SSLContext
    tls_failed = False

    def setup(self):
        """Wrap the accepted connection in TLS; note a refused handshake."""
        try:
            self.request = self.tls_context.wrap_socket(self.request, server_side=True)
        except OSError:  # the client refused our certificate: nothing more to say
            self.tls_failed = True
        super().setup()

    def handle(self):
        """Handle the request as usual, unless the TLS handshake failed."""
        if not self.tls_failed:
            super().handle()


def make_certificate(folder: Path) -> tuple[Path, Path] | None:
    """A self-signed certificate and key for 127.0.0.1, or None when `openssl` is missing."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    certificate, key = folder / "certificate.pem", folder / "key.pem"
    run_command(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", certificate, "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        what="openssl req",
    )
    return certificate, key


@contextlib.contextmanager
def serve_hostile(
    handler_class: type[HostileHandler], tls: ssl.SSLContext | None = None
) -> Iterator[tuple[str, Traffic]]:
    """Serve `handler_class` with its own release event and traffic count, over TLS if given.

    Yields the base URL and the `Traffic`; on exit the release event is set, so
    waiting handlers return at once.
    """
    release, traffic = threading.Event(), Traffic()
    bases = (TLSHandler, handler_class) if tls else (handler_class,)
    configured = type(handler_class.__name__, bases,
                      {"release": release, "traffic": traffic, "tls_context": tls})
    with serve(configured) as base_url:
        try:
            yield base_url.replace("http://", "https://") if tls else base_url, traffic
        finally:
            release.set()


@dataclass
class HostileSite:
    """Base URLs of the hostile servers, and what the flood server sent."""

    redirector: str
    liar: str
    flood: str
    staller: str
    dripper: str
    files: str
    flood_traffic: Traffic
    tls_redirector: str | None = None
    tls_dripper: str | None = None
    certificate: Path | None = None

    @property
    def redirector_port(self) -> int:
        """The redirector's port on 127.0.0.1."""
        return urllib.parse.urlsplit(self.redirector).port

    @property
    def staller_port(self) -> int:
        """The staller's port on 127.0.0.1."""
        return urllib.parse.urlsplit(self.staller).port

    def redirect_to(self, url: str, status: int = 302) -> str:
        """A URL on the redirector that redirects once to `url`."""
        return f"{self.redirector}/to?url={quote(url)}&status={status}"


@contextlib.contextmanager
def hostile_site(tls: bool = True) -> Iterator[HostileSite]:
    """Run every hostile server (and the crafted files) on 127.0.0.1 until the block ends.

    With `tls` (and the `openssl` command), the redirector and the dripper are served
    over TLS as well.
    """
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hostile-files-")))
        write_image_files(folder)
        urls = {
            name: stack.enter_context(serve_hostile(handler_class))
            for name, handler_class in [
                ("redirector", Redirector), ("liar", Liar), ("flood", Flood),
                ("staller", Staller), ("dripper", Dripper),
            ]
        }
        tls_urls = {}
        certificate = make_certificate(folder) if tls else None
        if certificate:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
            for name, handler_class in [("tls_redirector", Redirector), ("tls_dripper", Dripper)]:
                tls_urls[name], _ = stack.enter_context(serve_hostile(handler_class, context))
        yield HostileSite(
            **{name: url for name, (url, _) in urls.items()},
            files=stack.enter_context(serve_directory(folder)),
            flood_traffic=urls["flood"][1],
            certificate=certificate[0] if certificate else None,
            **tls_urls,
        )
