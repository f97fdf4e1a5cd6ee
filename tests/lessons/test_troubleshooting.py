"""The troubleshooting page and the glossary: what they quote is true, and both stay well formed.

`lessons/troubleshooting.md` has one `###` entry per error. The entry's first fenced block is
the error as the tool prints it, and one line says where it comes from:

    Reproduced in: [06 · Docker](../notebooks/06-docker.ipynb)
    Documented, not reproduced here: <why not>

A reproduced error must appear in that notebook's committed outputs, compared with all
whitespace collapsed; `...` in the quoted text stands for a volatile part (at most 200
characters). So a quoted error that drifts from what the lesson shows fails here.
"""

import itertools
import re
from dataclasses import dataclass

import pytest
from test_lesson_figures import notebook_outputs

from serverless_dl.base.paths import LESSONS, NOTEBOOKS
from serverless_dl.lessons import syllabus

PAGE = LESSONS / "troubleshooting.md"
GLOSSARY = LESSONS / "glossary.md"
MIN_ENTRIES = 14
MIN_REPRODUCED = 8
WILDCARD = "..."
ANCHOR = re.compile(r'<a id="([a-z0-9-]+)"></a>')
FENCE = re.compile(r"^```[^\n]*\n(?P<text>.*?)^```", re.MULTILINE | re.DOTALL)
REPRODUCED = re.compile(
    r"^Reproduced in: \[(?P<label>[^\]]+)\]\(\.\./notebooks/(?P<name>[\w.-]+)\.ipynb\)\s*$",
    re.MULTILINE,
)
DOCUMENTED = re.compile(r"^Documented, not reproduced here: (?P<reason>\S.*)$", re.MULTILINE)
GLOSSARY_ENTRY = re.compile(
    r'<a id="(?P<anchor>[a-z0-9-]+)"></a>\n\*\*(?P<term>.+?)\.\*\*(?P<body>.*?)(?=\n<a id=|\Z)',
    re.DOTALL,
)
LESSON_LINK = re.compile(r"\]\((?P<target>\d\d-[\w-]+\.md|troubleshooting\.md#[a-z0-9-]+)\)")
# The terms the course's lessons rely on; each must keep its anchor so lessons can link it.
REQUIRED_TERMS = (
    "alias", "awslambdaric", "billed-duration", "cold-start", "context",
    "dynamic-range-quantization", "ecr-repository", "event", "execution-environment",
    "execution-role", "float16-quantization", "gb-second", "handler", "image-digest",
    "image-index", "init-phase", "invoke-url", "litert", "manifest-list",
    "provisioned-concurrency", "proxy-event", "quantization", "report-line", "resource-policy",
    "rie", "ssrf", "stage", "task-root", "tflite", "version", "warm-start",
)


@dataclass(frozen=True)
class Entry:
    """One error on the troubleshooting page."""

    title: str
    anchor: str | None
    error: str  # the first fenced block, as written
    notebook: str | None  # the lesson that reproduces it, or None
    label: str | None  # the link text naming that lesson
    reason: str | None  # why it is not reproduced
    sources: int  # how many "Reproduced in" / "Documented" lines the entry has


def entries(text: str) -> list[Entry]:
    """Every `###` entry of a troubleshooting page."""
    found = []
    sections = re.split(r"^### ", text, flags=re.MULTILINE)
    for before, section in itertools.pairwise(sections):
        title, _, body = section.partition("\n")
        body = re.split(r"^## ", body, flags=re.MULTILINE)[0]  # stop at the next group
        anchors = ANCHOR.findall(before.rstrip().splitlines()[-1]) if before.strip() else []
        fence = FENCE.search(body)
        reproduced = list(REPRODUCED.finditer(body))
        documented = list(DOCUMENTED.finditer(body))
        found.append(Entry(
            title=title.strip(),
            anchor=anchors[0] if anchors else None,
            error=fence["text"].strip() if fence else "",
            notebook=reproduced[0]["name"] if reproduced else None,
            label=reproduced[0]["label"] if reproduced else None,
            reason=documented[0]["reason"] if documented else None,
            sources=len(reproduced) + len(documented),
        ))
    return found


def error_pattern(quoted: str) -> re.Pattern:
    """A pattern for the quoted error: whitespace collapsed, `...` matching a volatile part."""
    parts = " ".join(quoted.split()).split(WILDCARD)
    return re.compile(".{0,200}?".join(re.escape(part) for part in parts))


def problem(entry: Entry) -> str | None:
    """What is wrong with one entry, or None."""
    if not entry.error:
        return f"{entry.title!r} quotes no error in a fenced block"
    if entry.sources != 1:
        return f"{entry.title!r} needs exactly one 'Reproduced in' or 'Documented' line"
    if entry.notebook is None:
        return None
    try:
        lesson = syllabus.lesson(entry.notebook)
    except KeyError as error:
        return f"{entry.title!r}: {error}"
    if entry.label != lesson.heading:
        return f"{entry.title!r} links {entry.label!r}; the lesson is called {lesson.heading!r}"
    outputs = " ".join(notebook_outputs(entry.notebook).split())
    if not error_pattern(entry.error).search(outputs):
        return f"{entry.title!r}: the outputs of {entry.notebook} do not contain {entry.error!r}"
    return None


def problems(text: str) -> list[str]:
    """One line for every entry of a troubleshooting page that is wrong."""
    return [message for entry in entries(text) if (message := problem(entry))]


PAGE_ENTRIES = entries(PAGE.read_text())


def test_the_page_has_enough_entries_and_reproduces_enough_of_them():
    reproduced = [entry for entry in PAGE_ENTRIES if entry.notebook]
    assert len(PAGE_ENTRIES) >= MIN_ENTRIES, [entry.title for entry in PAGE_ENTRIES]
    assert len(reproduced) >= MIN_REPRODUCED, [entry.title for entry in reproduced]


@pytest.mark.parametrize("entry", PAGE_ENTRIES, ids=lambda entry: entry.anchor or entry.title)
def test_each_entry_quotes_an_error_that_its_lesson_shows(entry):
    assert problem(entry) is None, problem(entry)


def test_every_entry_has_its_own_anchor():
    anchors = [entry.anchor for entry in PAGE_ENTRIES]
    assert None not in anchors, [entry.title for entry in PAGE_ENTRIES if entry.anchor is None]
    assert len(set(anchors)) == len(anchors), anchors


def test_the_check_fails_when_a_quoted_error_is_changed():
    text = PAGE.read_text()
    assert problems(text) == [message for entry in PAGE_ENTRIES if (message := problem(entry))]
    entry = next(entry for entry in PAGE_ENTRIES if entry.anchor == "task-timed-out")
    assert problem(entry) is None, "the sample entry must pass before it is changed"
    changed_error = entry.error.replace("3.00", "3.50")
    changed = text.replace(f"```\n{entry.error}\n```", f"```\n{changed_error}\n```", 1)
    assert changed != text
    assert f"{entry.title!r}: the outputs of {entry.notebook} do not contain" in "\n".join(
        problems(changed)
    )


def test_the_check_fails_when_an_entry_lacks_its_error_or_its_source():
    page = (
        "### No fence\n\nReproduced in: [01 · Lambda basics](../notebooks/01-lambda-basics.ipynb)\n"
        "### Two sources\n\n```\nboom\n```\n\nDocumented, not reproduced here: one\n"
        "Documented, not reproduced here: two\n"
        "### Wrong label\n\n```\nTask timed out after 3.00 seconds\n```\n\n"
        "Reproduced in: [01 · Basics](../notebooks/01-lambda-basics.ipynb)\n"
    )
    assert problems(page) == [
        "'No fence' quotes no error in a fenced block",
        "'Two sources' needs exactly one 'Reproduced in' or 'Documented' line",
        "'Wrong label' links '01 · Basics'; the lesson is called '01 · Lambda basics'",
    ]


def test_the_wildcard_stands_for_a_volatile_part_only():
    pattern = error_pattern("REPORT RequestId: ... Max Memory Used: 1024 MB")
    assert pattern.search("REPORT RequestId: 1a2b Duration: 3.1 ms Max Memory Used: 1024 MB")
    assert not pattern.search("REPORT RequestId: 1a2b Duration: 3.1 ms Max Memory Used: 90 MB")


@pytest.mark.docker
def test_the_wrong_architecture_image_prints_the_quoted_error(docker_engine):
    from serverless_dl.containers.foreign_arch import import_arm64_entrypoint_image, run_entrypoint

    entry = next(entry for entry in PAGE_ENTRIES if entry.anchor == "exec-format-error")
    assert run_entrypoint(import_arm64_entrypoint_image()) == entry.error


# --- the glossary ---------------------------------------------------------------------

GLOSSARY_TERMS = list(GLOSSARY_ENTRY.finditer(GLOSSARY.read_text()))


def test_the_glossary_is_alphabetical_with_one_anchor_per_term():
    terms = [match["term"] for match in GLOSSARY_TERMS]
    assert terms == sorted(terms, key=str.casefold), terms
    anchors = [match["anchor"] for match in GLOSSARY_TERMS]
    assert len(set(anchors)) == len(anchors), anchors
    assert len(anchors) == len(ANCHOR.findall(GLOSSARY.read_text())), "an anchor lacks its term"


def test_the_glossary_defines_the_terms_the_lessons_rely_on():
    anchors = {match["anchor"] for match in GLOSSARY_TERMS}
    assert not set(REQUIRED_TERMS) - anchors, sorted(set(REQUIRED_TERMS) - anchors)


def test_every_glossary_term_links_to_where_it_is_taught():
    unlinked = [match["term"] for match in GLOSSARY_TERMS if not LESSON_LINK.search(match["body"])]
    assert not unlinked, unlinked


def test_links_into_the_two_pages_name_anchors_that_exist():
    pages = {"troubleshooting.md": PAGE, "glossary.md": GLOSSARY}
    anchors = {name: set(ANCHOR.findall(path.read_text())) for name, path in pages.items()}
    texts = [(path, path.read_text()) for path in sorted(LESSONS.glob("*.md"))]
    texts += [(path, path.read_text()) for path in sorted(NOTEBOOKS.glob("*.ipynb"))]
    broken = []
    for path, text in texts:
        for page, anchor in re.findall(r"\((?:\.\./lessons/)?([a-z]+\.md)?#([a-z0-9-]+)\)", text):
            page = page or path.name
            if page in anchors and anchor not in anchors[page]:
                broken.append(f"{path.name} -> {page}#{anchor}")
    assert not broken, broken
