"""The course as a website: built offline from what is committed, walked in a real browser."""

from __future__ import annotations

import os
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from PIL import Image

from serverless_dl.base.paths import ROOT
from serverless_dl.function.imageserver import serve_directory
from serverless_dl.lessons import site
from serverless_dl.lessons.syllabus import HOMEWORK_NOTEBOOK, LESSONS
from serverless_dl.web.browser import PageWatch, watched_page

MAX_PAGES = 100  # a "next" link that loops must not walk forever


@dataclass
class VisitedPage:
    """What one page of the walk showed."""

    path: str
    outputs: int  # rendered notebook outputs
    output_images: int  # images among them that the browser decoded
    notes: str  # the text of the page's admonitions
    links: list[str]


@dataclass
class Walk:
    """The pages reached from the first page through "next" links, and what the browser saw."""

    pages: list[VisitedPage] = field(default_factory=list)
    search_results: list[str] = field(default_factory=list)
    watch: PageWatch = field(default_factory=PageWatch)

    def page(self, repository_path: Path) -> VisitedPage:
        """The visited page made from a repository file."""
        wanted = html_path(repository_path)
        return next(page for page in self.pages if page.path == wanted)


def html_path(repository_path: Path) -> str:
    """Where a page made from a repository file lands on the site."""
    return repository_path.with_suffix(".html").as_posix()


@pytest.fixture(scope="session")
def site_html():
    """The site, built once for the session with warnings as errors."""
    if not site.JUPYTER_BOOK.is_file():
        reason = f"{site.JUPYTER_BOOK.relative_to(ROOT)} is missing (make setup installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    site.build()
    return site.HTML


@pytest.fixture(scope="session")
def site_url(site_html):
    """The built site served on 127.0.0.1."""
    with serve_directory(site_html) as base_url:
        yield base_url


def visit(page, base_url: str) -> VisitedPage:
    """Read what the browser shows on the current page."""
    return VisitedPage(
        path=page.url.removeprefix(base_url + "/"),
        outputs=page.locator(".cell_output").count(),
        output_images=page.eval_on_selector_all(
            ".cell_output img", "images => images.filter(i => i.naturalWidth > 0).length"),
        notes=" ".join(page.locator(".admonition").all_inner_texts()),
        links=page.eval_on_selector_all("a[href]", "anchors => anchors.map(a => a.href)"),
    )


@pytest.fixture(scope="session")
def walk(site_url, chromium_browser):
    """From the first page to the last through the "next" links, then a search for SSRF."""
    page, watch = watched_page(chromium_browser)
    result = Walk(watch=watch)
    page.goto(f"{site_url}/index.html", wait_until="networkidle")
    while len(result.pages) < MAX_PAGES:
        result.pages.append(visit(page, site_url))
        following = page.locator("a.right-next")
        if not following.count():
            break
        page.goto(urllib.parse.urljoin(page.url, following.get_attribute("href")),
                  wait_until="networkidle")
    page.goto(f"{site_url}/search.html?q=SSRF", wait_until="networkidle")
    page.wait_for_selector("#search-results li a")
    result.search_results = page.eval_on_selector_all(
        "#search-results li a", "anchors => anchors.map(a => a.getAttribute('href'))")
    page.close()
    return result


def test_next_links_walk_every_page_in_course_order(walk):
    assert [page.path for page in walk.pages] == [html_path(page) for page in site.pages()]


@pytest.mark.parametrize("notebook", [*(lesson.notebook for lesson in LESSONS), HOMEWORK_NOTEBOOK],
                         ids=lambda path: path.stem)
def test_every_notebook_page_shows_outputs_and_how_to_open_it(walk, notebook):
    repository_path = notebook.relative_to(ROOT)
    shown = walk.page(repository_path)
    if any(cell.get("outputs") for cell in nbformat.read(notebook, as_version=4).cells):
        assert shown.outputs >= 1, f"{shown.path} shows none of its notebook's outputs"
    assert "make lab" in shown.notes and repository_path.as_posix() in shown.notes, shown.notes


def test_lesson_00_shows_its_figures_as_images(walk):
    notebook = nbformat.read(LESSONS[0].notebook, as_version=4)
    figures = sum("image/png" in output.get("data", {})
                  for cell in notebook.cells for output in cell.get("outputs", []))
    assert figures >= 1
    assert walk.page(LESSONS[0].notebook.relative_to(ROOT)).output_images == figures


def test_search_finds_ssrf_in_the_hardening_lesson(walk):
    assert html_path(LESSONS[5].written.relative_to(ROOT)) in walk.search_results, \
        walk.search_results


def test_no_page_logs_an_error_or_asks_another_host(walk):
    assert walk.watch.requests, "the browser recorded no requests at all"
    assert not walk.watch.errors, "\n".join(walk.watch.errors)
    assert not walk.watch.foreign_requests(), "\n".join(walk.watch.foreign_requests())


def test_every_link_within_the_site_resolves(walk, site_url):
    pages, broken = {}, []
    for shown in walk.pages:
        for link in shown.links:
            address, _, anchor = link.partition("#")
            if not address.startswith(site_url + "/"):
                continue
            if address not in pages:
                pages[address] = fetched_text(address)
            found = pages[address]
            if found is None or (anchor and f'id="{anchor}"' not in found):
                broken.append(f"{shown.path} -> {link}: " + ("no such id" if found else "no file"))
    assert not broken, "\n".join(broken)


def fetched_text(address: str) -> str | None:
    """The text served at `address`, or None when the server has no such file."""
    try:
        with urllib.request.urlopen(address, timeout=10) as response:
            return response.read().decode("utf-8", "replace")
    except OSError:
        return None


def test_a_broken_link_a_missing_image_and_a_page_off_the_toc_fail_the_build(tmp_path):
    if not site.JUPYTER_BOOK.is_file():
        pytest.skip(f"{site.JUPYTER_BOOK.relative_to(ROOT)} is missing (make setup installs it)")
    source = site.write_source(tmp_path / "source")
    lesson = source / LESSONS[1].written.relative_to(ROOT)
    lesson.write_text(lesson.read_text() + "\n[gone](no-such-page.md)\n\n![gone](no-such.png)\n")
    (source / "lessons" / "stray.md").write_text("# A page nobody listed\n")
    with pytest.raises(site.SiteBuildFailed) as failure:
        site.run_jupyter_book(source, tmp_path / "output")
    message = str(failure.value)
    assert "no-such-page.md" in message
    assert "no-such.png" in message
    assert re.search(r"stray.*isn't included in any toctree", message), message


def test_the_screenshot_command_photographs_a_lesson_page_at_viewport_size(
        site_html, chromium_browser, tmp_path):
    picture = site.take_screenshot(site_html, tmp_path / "page.png", chromium_browser)
    with Image.open(picture) as image:
        assert image.size == tuple(site.SCREENSHOT_VIEWPORT.values())


def test_the_committed_screenshot_has_the_viewport_size():
    assert site.SCREENSHOT.is_file(), "run `make site-screenshot`"
    with Image.open(site.SCREENSHOT) as image:
        assert image.size == tuple(site.SCREENSHOT_VIEWPORT.values())
