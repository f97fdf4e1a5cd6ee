"""Numbers quoted in written lessons come from the executed notebooks (STYLE.md, "Prose").

A written lesson marks each figure it quotes from a notebook like this:

    the image weighs <!--fig:06-docker-->305 MB<!--/fig--> in all

The marked text must appear, exactly, in the committed outputs of that notebook,
so a figure that drifts from the notebook (or is typed in by hand) fails here.
"""

import re

import nbformat
import pytest

from serverless_dl.base.paths import HOMEWORK, LESSONS, ROOT
from serverless_dl.lessons import syllabus

FIGURE = re.compile(r"<!--fig:(?P<notebook>[\w.-]+)-->(?P<text>.*?)<!--/fig-->", re.DOTALL)
PAGES = sorted(LESSONS.glob("*.md")) + [HOMEWORK / "README.md", ROOT / "README.md"]


def notebook_outputs(name: str) -> str:
    """Every text output of a committed notebook (lesson or homework), joined."""
    path = syllabus.lesson(name).notebook if name != "homework" else syllabus.HOMEWORK_NOTEBOOK
    texts = []
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                texts.append(output["text"])
            texts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(texts)


def quoted_figures(text: str) -> list[tuple[str, str]]:
    """(notebook name, figure text) for every marked figure in `text`."""
    return [(match["notebook"], " ".join(match["text"].split())) for match in FIGURE.finditer(text)]


def missing_figures(text: str) -> list[str]:
    """One line for every marked figure in `text` that its notebook's outputs do not contain."""
    missing = []
    for notebook, figure in quoted_figures(text):
        if figure not in " ".join(notebook_outputs(notebook).split()):
            missing.append(f"{figure!r} is not in the outputs of {notebook}")
    return missing


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_marked_figure_is_in_its_notebooks_outputs(page):
    missing = missing_figures(page.read_text())
    assert not missing, "\n".join(missing)


def test_the_check_fails_when_a_quoted_figure_is_changed():
    name = syllabus.LESSONS[0].name
    real = re.search(r"\d+\.\d+", notebook_outputs(name))[0]
    assert missing_figures(f"accuracy <!--fig:{name}-->{real}<!--/fig-->") == []
    changed = f"accuracy <!--fig:{name}-->{real}9<!--/fig-->"
    assert missing_figures(changed) == [f"'{real}9' is not in the outputs of {name}"]


def test_lessons_mark_the_figures_they_quote():
    marked = sum(len(quoted_figures(page.read_text())) for page in PAGES)
    assert marked >= 20, f"only {marked} figures are marked across the written lessons"
