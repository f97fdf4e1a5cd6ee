"""A real browser for tests and screenshots: Debian's Chromium, driven by Playwright.

Playwright cannot download its own browser here (`playwright install` needs a
host we cannot reach), so it drives the Chromium that Debian's `chromium`
package installs. Browser tests are mandatory in CI (`CI=true`): there, a
missing browser fails them; elsewhere they are skipped with the reason
(`skip_or_fail`).
"""

from __future__ import annotations

import contextlib
import os
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

EXECUTABLE = Path("/usr/bin/chromium")
# Headless as root in a container, and quiet on the network: no QUIC probes, no update,
# sync or background requests to Google's hosts, so every request a test sees is the page's.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip
LOOPBACK_HOSTS = ("127.0.0.1",)
# URLs that name no host: the page's own inline data.
HOSTLESS_SCHEMES = ("data", "blob", "about")


class BrowserUnavailable(RuntimeError):
    """No browser to drive: Chromium or the Playwright package is missing, or it did not start."""


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium (a Playwright `Browser`), closed on exit."""
    if not EXECUTABLE.is_file():
        raise BrowserUnavailable(f"{EXECUTABLE} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as error:
        raise BrowserUnavailable(f"the playwright package is missing: {error}") from error
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=str(EXECUTABLE), args=FLAGS)
        except Error as error:
            raise BrowserUnavailable(f"Chromium did not start: {error}") from error
        try:
            yield browser
        finally:
            browser.close()


def skip_or_fail(error: BrowserUnavailable) -> NoReturn:
    """The project's rule for a test without a browser: fail when CI=true, else skip with why."""
    import pytest

    if os.environ.get("CI") == "true":
        pytest.fail(f"browser unavailable, and browser tests are mandatory in CI: {error}")
    pytest.skip(f"browser unavailable: {error}")


@dataclass
class PageWatch:
    """What a page did: every URL it requested and every error it logged or threw."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        """The requested URLs that go to a host other than loopback."""
        return [url for url in self.requests
                if urllib.parse.urlsplit(url).scheme not in HOSTLESS_SCHEMES
                and urllib.parse.urlsplit(url).hostname not in LOOPBACK_HOSTS]  # fmt: skip


def watched_page(browser, **page_options) -> tuple[object, PageWatch]:
    """A new page of `browser` with a `PageWatch` recording its requests and errors."""
    page = browser.new_page(**page_options)
    watch = PageWatch()
    page.on("request", lambda request: watch.requests.append(request.url))
    page.on("console", lambda message: message.type == "error" and watch.errors.append(
        f"{page.url}: console: {message.text}"))
    page.on("pageerror", lambda error: watch.errors.append(f"{page.url}: exception: {error}"))
    return page, watch
