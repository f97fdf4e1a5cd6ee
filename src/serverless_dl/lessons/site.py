"""The course as a website: Jupyter Book 1 over what is committed, built offline.

The site is made from the repository as it is: the README's learner part, the
written lessons, the executed notebooks with their committed outputs (never run
again), the pages beside the lessons and the homework. Its table of contents
comes from `serverless_dl.lessons.syllabus.LESSONS`. Everything Jupyter Book reads is
generated into `build/site-source/`, which mirrors the repository's layout so
that the lessons' relative links work unchanged; the files those links point at
are copied along and served as downloads. Jupyter Book runs from its own
environment (`.venvs/site`, requirements/site.txt) with warnings as errors.

Command line::

    python -m serverless_dl.lessons.site build       # make site: prints the index page's path
    python -m serverless_dl.lessons.site screenshot  # make site-screenshot (images/site/)
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

from serverless_dl.base.paths import BUILD, IMAGES, ROOT, VENVS
from serverless_dl.lessons.syllabus import HOMEWORK_NOTEBOOK, HOMEWORK_PAGE, LESSONS, README

SOURCE = BUILD / "site-source"
OUTPUT = BUILD / "site"
HTML = OUTPUT / "_build" / "html"
JUPYTER_BOOK = VENVS / "site" / "bin" / "jupyter-book"
SCREENSHOT = IMAGES / "site" / "lesson-page.png"
SCREENSHOT_PAGE = "notebooks/00-last-weeks-model.html"
SCREENSHOT_VIEWPORT = {"width": 1280, "height": 800}
TITLE = "Serverless Deep Learning"
# The README below this heading is for instructors; the site is for learners.
INSTRUCTORS_HEADING = "## For instructors and maintainers"
ANCHORS_EXTENSION = "serverless_dl.lessons.sphinx_anchors"
# Jupyter Book's extensions less sphinx_thebe (its script tag comes twice, a page error, and
# names a CDN) and intersphinx (inventories live on other hosts); comments stay off.
EXTENSIONS = ["sphinx_togglebutton", "sphinx_copybutton", "myst_nb", "jupyter_book",
              "sphinx_comments", "sphinx_external_toc", "sphinx_design", "sphinx_book_theme",
              ANCHORS_EXTENSION]
BESIDE_THE_LESSONS = ("deploy", "troubleshooting", "glossary")
# Browsers ask every site for an icon; without one each first visit logs a 404.
FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
           '<rect width="32" height="32" rx="6" fill="#ff9900"/><text x="16" y="24" '
           'font-size="22" font-family="sans-serif" text-anchor="middle" fill="#232f3e">λ</text>'
           '</svg>\n')
TERMINAL_COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # Sphinx colours its log even into a pipe
# A Markdown link or image: `[text](target)` or `![alt](target)`.
LINK = re.compile(r"(\]\()([^)\s]+)(\))")


class SiteBuildFailed(RuntimeError):
    """Jupyter Book stopped, or warned (a broken link, a missing image, a page off the TOC)."""


# --- what the site is made of ------------------------------------------------------

def lesson_pages() -> list[tuple[Path, Path]]:
    """(written lesson, notebook) of every lesson, in course order, relative to the repository."""
    return [(entry.written.relative_to(ROOT), entry.notebook.relative_to(ROOT))
            for entry in LESSONS]  # fmt: skip


def pages() -> list[Path]:
    """Every page of the site in course order, relative to the repository."""
    lessons = [page for pair in lesson_pages() for page in pair]
    beside = [Path("lessons") / f"{name}.md" for name in BESIDE_THE_LESSONS]
    homework = [HOMEWORK_PAGE.relative_to(ROOT), HOMEWORK_NOTEBOOK.relative_to(ROOT)]
    return [Path("README.md"), *lessons, *beside, *homework]


def table_of_contents() -> dict:
    """Jupyter Book's `_toc.yml`: the README, then each lesson with its notebook, then the rest."""
    def entry(path: Path, title: str | None = None) -> dict:
        return {"file": path.with_suffix("").as_posix(), **({"title": title} if title else {})}

    lessons = [{**entry(written, lesson.heading),
                "sections": [entry(notebook, f"{lesson.number} · The notebook")]}
               for lesson, (written, notebook) in zip(LESSONS, lesson_pages(), strict=True)]
    beside = [entry(Path("lessons") / f"{name}.md") for name in BESIDE_THE_LESSONS]
    homework = [entry(HOMEWORK_PAGE.relative_to(ROOT), "Homework"),
                entry(HOMEWORK_NOTEBOOK.relative_to(ROOT), "The homework notebook")]
    return {"format": "jb-book", "root": "README", "parts": [
        {"caption": "Lessons", "chapters": lessons},
        {"caption": "Beside the lessons", "chapters": beside},
        {"caption": "Homework", "chapters": homework},
    ]}  # fmt: skip


def configuration() -> dict:
    """Jupyter Book's `_config.yml`: nothing executed, nothing loaded from another host."""
    return {
        "title": TITLE,
        "author": "the Serverless Deep Learning course",
        "only_build_toc_files": False,
        "execute": {"execute_notebooks": "off"},
        # No dollarmath (prices such as $0.20 are not math, and math would load MathJax from
        # a CDN), no substitution (`{{ }}` in templates is not ours), no linkify.
        "parse": {"myst_enable_extensions": ["colon_fence"]},
        "html": {"use_repository_button": False, "use_issues_button": False,
                 "use_edit_page_button": False, "use_multitoc_numbering": False,
                 "home_page_in_navbar": True, "favicon": "favicon.svg"},
        "launch_buttons": {"notebook_interface": "jupyterlab", "binderhub_url": "",
                           "jupyterhub_url": "", "thebe": False, "colab_url": "",
                           "deepnote_url": ""},
        "repository": {"url": "", "path_to_book": "", "branch": "main"},
        "sphinx": {"local_extensions": {ANCHORS_EXTENSION: str(ROOT / "src")}, "config": {
            "extensions": EXTENSIONS,
            "html_context": {"default_mode": "auto"},  # "" logs a console error on first visit
            "myst_heading_anchors": 4,  # `page.md#heading` links, as on GitHub
            "nb_ipywidgets_js": {},  # would load require.js and the widget manager from a CDN
            # A %%writefile cell's Dockerfile does not lex as Python; Pygments retries in
            # relaxed mode and the page is right. Links, images and pages still fail the build.
            "suppress_warnings": ["misc.highlighting_failure"],
            "html_show_sourcelink": False,
            "html_theme_options": {"use_download_button": False, "use_fullscreen_button": False},
        }},
    }  # fmt: skip


# --- the generated source ----------------------------------------------------------

def learner_readme() -> str:
    """The README up to the instructors' part."""
    text = README.read_text()
    if INSTRUCTORS_HEADING not in text:
        raise ValueError(f"README.md lacks the heading {INSTRUCTORS_HEADING!r}")
    return text.split(INSTRUCTORS_HEADING, 1)[0].rstrip() + "\n"


def open_in_jupyterlab_cell(notebook: Path) -> str:
    """The note a notebook page shows under its title: how to run the notebook yourself."""
    return (f"```{{tip}}\nThis page shows the notebook as committed, with its outputs. "
            f"To run it yourself, type `make lab` in the repository; JupyterLab opens, "
            f"then open `{notebook.as_posix()}`.\n```")


def markdown_texts(page: Path) -> list[str]:
    """The Markdown of a page (relative to ROOT) on the site: the text, or a notebook's cells."""
    if page == Path("README.md"):
        return [learner_readme()]
    if page.suffix != ".ipynb":
        return [(ROOT / page).read_text()]
    import nbformat

    notebook = nbformat.read(ROOT / page, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]


def link_targets(page: Path) -> set[Path]:
    """The repository files and folders a page (relative to ROOT) links to, relative to ROOT.

    A target that does not exist is left out: the build then reports the broken link.
    """
    targets = set()
    for text in markdown_texts(page):
        for _, target, _ in LINK.findall(text):
            parts = urllib.parse.urlsplit(target)
            if parts.scheme or not parts.path:
                continue
            resolved = (ROOT / page.parent / urllib.parse.unquote(parts.path)).resolve()
            if resolved.exists() and resolved.is_relative_to(ROOT):
                targets.add(resolved.relative_to(ROOT))
    return targets


def with_folder_links_to_listings(text: str, page: Path) -> str:
    """`text` with each link to a repository folder pointed at that folder's listing page."""
    def retarget(match: re.Match) -> str:
        target = match[2]
        if urllib.parse.urlsplit(target).scheme or not (ROOT / page.parent / target).is_dir():
            return match[0]
        return f"{match[1]}{target.rstrip('/')}/index.md{match[3]}"

    return LINK.sub(retarget, text)


def folder_listing(folder: Path) -> str:
    """An orphan page that links every file of a repository folder (relative to ROOT)."""
    files = sorted(path.name for path in (ROOT / folder).iterdir() if path.is_file())
    lines = [f"- [{name}]({urllib.parse.quote(name)})" for name in files]
    return (f"---\norphan: true\n---\n\n# `{folder.as_posix()}/`\n\n"
            f"The files of this folder of the repository:\n\n" + "\n".join(lines) + "\n")


def as_orphan(text: str) -> str:
    """A Markdown page that is linked but not in the table of contents, marked as such."""
    return f"---\norphan: true\n---\n\n{text}"


def write_page(page: Path, source: Path, in_toc: bool) -> None:
    """Copy one page (relative to ROOT) into the generated source, adapted for the site."""
    target = source / page
    if page.suffix == ".ipynb":
        target.write_text(site_notebook(page))
        return
    text = with_folder_links_to_listings(markdown_texts(page)[0], page)
    target.write_text(text if in_toc else as_orphan(text))


def site_notebook(page: Path) -> str:
    """A notebook (relative to ROOT) as the site shows it: the JupyterLab note after its title."""
    import nbformat

    notebook = nbformat.read(ROOT / page, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = with_folder_links_to_listings(cell.source, page)
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell(open_in_jupyterlab_cell(page)))
    # Cell magics such as %%bash only lex as IPython; plain "python" would warn on each.
    notebook.metadata.setdefault("language_info", {})["pygments_lexer"] = "ipython3"
    return nbformat.writes(notebook)


def write_source(source: Path = SOURCE) -> Path:
    """Generate the folder Jupyter Book builds: pages, what they link to, TOC and config."""
    import yaml

    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    in_toc = pages()
    waiting, done = list(in_toc), set()
    while waiting:
        page = waiting.pop(0)
        if page not in done:
            done.add(page)
            waiting += copy_into_source(page, source, page in in_toc)
    (source / "_toc.yml").write_text(yaml.safe_dump(table_of_contents(), sort_keys=False,
                                                    allow_unicode=True))
    (source / "favicon.svg").write_text(FAVICON)
    (source / "_config.yml").write_text(yaml.safe_dump(configuration(), sort_keys=False))
    return source


def copy_into_source(path: Path, source: Path, in_toc: bool) -> list[Path]:
    """Put one repository file or folder (relative to ROOT) into the source; return its links."""
    (source / path).parent.mkdir(parents=True, exist_ok=True)
    if (ROOT / path).is_dir():
        (source / path).mkdir(exist_ok=True)
        (source / path / "index.md").write_text(folder_listing(path))
        return sorted(item.relative_to(ROOT) for item in (ROOT / path).iterdir()
                      if item.is_file())  # fmt: skip
    if path.suffix in (".md", ".ipynb"):
        write_page(path, source, in_toc)
        return sorted(link_targets(path))
    shutil.copy2(ROOT / path, source / path)
    return []


# --- building and looking at it ----------------------------------------------------

def build(source: Path = SOURCE, output: Path = OUTPUT) -> Path:
    """Generate the source and build the site with warnings as errors; return the index page."""
    write_source(source)
    return run_jupyter_book(source, output)


def run_jupyter_book(source: Path, output: Path) -> Path:
    """Build the HTML of a generated source folder into `output`; return the index page.

    Every page is written again and warnings are errors (`-W -n --keep-going`, so one run
    reports them all): a broken link, a missing image or a page off the TOC fails the build.
    """
    if not JUPYTER_BOOK.is_file():
        raise SiteBuildFailed(f"{JUPYTER_BOOK.relative_to(ROOT)} is missing; run `make site`")
    shutil.rmtree(output, ignore_errors=True)  # no page of an earlier build survives
    command = [str(JUPYTER_BOOK), "build", str(source), "--path-output", str(output),
               "--all", "-W", "-n", "--keep-going"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        lines = TERMINAL_COLOURS.sub("", result.stdout + result.stderr).splitlines()
        problems = [line for line in lines if "WARNING" in line or "ERROR" in line]
        raise SiteBuildFailed("jupyter-book build failed:\n" + "\n".join(problems or lines[-40:]))
    return output / "_build" / "html" / "index.html"


def take_screenshot(html: Path = HTML, target: Path = SCREENSHOT, browser=None) -> Path:
    """Photograph one lesson page of the built site in headless Chromium, at the viewport's size.

    Pass a running `browser` (a Playwright Browser) to use it; otherwise one is started.
    """
    from serverless_dl.function.imageserver import serve_directory
    from serverless_dl.web.browser import chromium

    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        base_url = stack.enter_context(serve_directory(html))
        browser = browser or stack.enter_context(chromium())
        page = browser.new_page(viewport=SCREENSHOT_VIEWPORT)
        page.goto(f"{base_url}/{SCREENSHOT_PAGE}", wait_until="networkidle")
        page.screenshot(path=str(target))
        page.close()
    return target


def main(argv: list[str] | None = None) -> int:
    """Build the site, or photograph a page of it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "screenshot"])
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(build().relative_to(ROOT))
        else:
            if not (HTML / SCREENSHOT_PAGE).is_file():
                build()
            print(take_screenshot().relative_to(ROOT))
    except SiteBuildFailed as error:
        parser.exit(1, f"{error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
