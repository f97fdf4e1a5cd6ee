"""Lesson 09's web page (`web/`): serve it on its own origin, give it an API, drive it in Chromium.

The page is static (HTML, CSS, JavaScript) and learns where the API is from
`web/config.js`, which a learner writes before uploading the page. Here:

- `serve_page()` serves `web/` on a 127.0.0.1 origin of its own, as S3 static
  website hosting or a CDN would, with a `config.js` that points at the API.
- `web_stack()` is the whole local set-up of the lesson and of the browser
  tests: `sam build` and `sam local start-api` for one variant of the function
  (the plain handler, or the FastAPI app), told the page's origin through the
  template's `PageOrigin` parameter, and the page on that origin.
- `classify_in_page()` uses the page as a person would (choose how a photo is
  sent and then the file, or type a URL and press the button) and returns what
  it then shows.

Command line::

    python -m serverless_dl.web.web_page screenshot   # images/web/page-*.png (make web-screenshot)
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import functools
import json
import struct
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from serverless_dl.aws import sam_local
from serverless_dl.base.paths import BUILD, DOCKER, IMAGES, ROOT, in_repo
from serverless_dl.base.processes import free_port
from serverless_dl.function.imageserver import _QuietFileHandler, serve

WEB = ROOT / "web"
# The two ways of serving the same API: the same template, a different function image.
TEMPLATES = {"plain": DOCKER / "template.yaml", "fastapi": DOCKER / "fastapi" / "template.yaml"}
SCREENSHOTS = IMAGES / "web"
VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}  # CSS pixels; scale factor 1
OUTCOME_SECONDS = 60  # a cold container plus one inference, with room to spare


def config_js(predict_url: str, api_key: str = "") -> str:
    """The text of `web/config.js` for an API at `predict_url`."""
    settings = json.dumps({"predictUrl": predict_url, "apiKey": api_key}, indent=2)
    return (
        "// Written for this run by serverless_dl.web.web_page.\n"
        f"window.CLOTHING_API = {settings};\n"
    )


class _PageHandler(_QuietFileHandler):
    """Serves `web/`, with `config.js` replaced by the one this server was given."""

    config = ""

    def do_GET(self):  # noqa: N802 - name fixed by the base class
        if self.path.split("?")[0] != "/config.js":
            return super().do_GET()
        body = self.config.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/javascript; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None


@contextlib.contextmanager
def serve_page(predict_url: str, api_key: str = "", port: int = 0) -> Iterator[str]:
    """Serve `web/` on 127.0.0.1:`port` (0: any free port) for `predict_url`; yield the origin."""
    handler = type("PageHandler", (_PageHandler,), {"config": config_js(predict_url, api_key)})
    with serve(functools.partial(handler, directory=str(WEB)), port) as origin:
        yield origin


@dataclass
class WebStack:
    """The page on its origin and the API (`sam local start-api`) that allows that origin."""

    variant: str
    page_origin: str
    api: sam_local.LocalApi

    @property
    def predict_url(self) -> str:
        """Where the page sends its requests."""
        return f"{self.api.url}/predict"


@contextlib.contextmanager
def web_stack(variant: str, work_dir: str | Path) -> Iterator[WebStack]:
    """Build and serve `variant`'s API with `sam local start-api`, and the page for it.

    The API is told the page's origin before it starts (`PageOrigin`), so it
    answers CORS for that origin only. Test-only: the function fetches image
    URLs from a sidecar on its own loopback interface (see `sam_local`); the
    same files are served on the host's loopback at the same port, so that a
    URL the page sends also shows as the page's preview.
    """
    if variant not in TEMPLATES:
        raise KeyError(f"unknown variant {variant!r}; choose one of {', '.join(TEMPLATES)}")
    folder = in_repo(work_dir) / variant
    built = sam_local.build(TEMPLATES[variant], folder)
    page_port = free_port()
    origin = f"http://127.0.0.1:{page_port}"
    api = sam_local.LocalApi(built, folder, IMAGES, parameters={"PageOrigin": origin})
    with api:
        images = functools.partial(_QuietFileHandler, directory=str(IMAGES))
        with serve_page(f"{api.url}/predict", port=page_port), serve(images, api.images_port):
            yield WebStack(variant=variant, page_origin=origin, api=api)


def without_binary_media_types(built_template: str | Path, folder: str | Path) -> Path:
    """A copy of a built template, in `folder`, whose API lists no binary media types.

    Lesson 09 serves it to show what a photo body meets without them.
    """
    template = yaml.safe_load(Path(built_template).read_text())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Api":
            resource["Properties"].pop("BinaryMediaTypes", None)
    copy = in_repo(folder) / "template.yaml"
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(yaml.safe_dump(template, sort_keys=False))
    return copy


@dataclass(frozen=True)
class Outcome:
    """What the page showed: `prediction` and the class, or `error` and the message."""

    kind: str
    text: str


_SETTLED = """() => document.body.getAttribute("aria-busy") !== "true"
    && (!document.getElementById("result").hidden || !document.getElementById("error").hidden)"""


SEND_AS = ("binary", "base64")  # the page's two ways to send a photo: its radio buttons


def classify_in_page(page, origin: str, *, file: str | Path | None = None,
                     url: str | None = None, send_as: str = "binary") -> Outcome:  # fmt: skip
    """Open the page at `origin`, choose `file` (sent `send_as`: the body as it is, or base64
    inside JSON) or submit `url`, and return what the page shows."""
    if send_as not in SEND_AS:
        raise ValueError(f"send_as must be one of {SEND_AS}, not {send_as!r}")
    page.goto(f"{origin}/")
    if file is not None:
        page.check(f"#send-{send_as}")
        page.set_input_files("#file-input", str(in_repo(file)))
    else:
        page.fill("#url-input", url)
        page.click("#url-button")
    page.wait_for_function(_SETTLED, timeout=OUTCOME_SECONDS * 1000)
    if page.is_visible("#result"):
        return Outcome("prediction", page.inner_text("#prediction"))
    return Outcome("error", page.inner_text("#error"))


def try_in_chromium(origin: str, *flows: dict) -> tuple[list[Outcome], list[str]]:
    """Run `flows` (keyword arguments of `classify_in_page`: `file=` and perhaps `send_as=`, or
    `url=`) on the page at
    `origin` in a fresh headless Chromium; return what it showed and the console's errors.

    It runs in a thread of its own: Playwright's sync API refuses to run where an asyncio
    loop is running, as in a Jupyter kernel.
    """
    from serverless_dl.web.browser import chromium, watched_page

    def run():
        with chromium() as browser:
            page, watch = watched_page(browser)
            return [classify_in_page(page, origin, **flow) for flow in flows], watch.errors

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def png_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of a PNG file, from its header."""
    header = Path(path).read_bytes()[:24]
    if header[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG file")
    return struct.unpack(">II", header[16:24])


def take_screenshots(
    out_dir: str | Path = SCREENSHOTS, work_dir: str | Path = BUILD / "web"
) -> list[Path]:
    """Screenshots of the page after it classified images/pants.jpg, one per viewport."""
    from serverless_dl.web.browser import chromium, watched_page

    out = in_repo(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with web_stack("plain", work_dir) as stack, chromium() as browser:
        for name, (width, height) in VIEWPORTS.items():
            page, watch = watched_page(browser, viewport={"width": width, "height": height})
            outcome = classify_in_page(page, stack.page_origin, file=IMAGES / "pants.jpg")
            if outcome != Outcome("prediction", "pants") or watch.errors:
                raise RuntimeError(f"the page showed {outcome} with errors {watch.errors}")
            path = out / f"page-{name}.png"
            page.screenshot(path=str(path))
            written.append(path)
            page.close()
    return written


def main(argv: list[str] | None = None) -> int:
    """`python -m serverless_dl.web.web_page screenshot`."""
    parser = argparse.ArgumentParser(prog="python -m serverless_dl.web.web_page")
    parser.add_argument("command", choices=["screenshot"])
    parser.parse_args(argv)
    for path in take_screenshots():
        width, height = png_size(path)
        print(f"wrote {path.relative_to(ROOT)} ({width}x{height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
