"""The one list of lessons, the navigation made from it, links, and STYLE.md's notebook rules."""

import re
import urllib.parse

import nbformat
import pytest

from serverless_dl.base.paths import HOMEWORK, LESSONS, NOTEBOOKS, ROOT
from serverless_dl.lessons import syllabus
from serverless_dl.lessons.notebooks import parameter_names, run_parameters

MAX_CELL_LINES = 15
STYLE = ROOT / "STYLE.md"
# Notebooks whose cells must follow the notebook rules: every lesson and the homework starter.
RULED_NOTEBOOKS = [lesson.notebook for lesson in syllabus.LESSONS] + [syllabus.HOMEWORK_NOTEBOOK]


def test_every_notebook_and_written_lesson_is_on_the_list_and_the_other_way_round():
    on_list = set(syllabus.names())
    notebooks = {path.stem for path in NOTEBOOKS.glob("*.ipynb")}
    written = {path.stem for path in LESSONS.glob("[0-9][0-9]-*.md")}
    assert notebooks == on_list, "notebooks/ and syllabus.LESSONS disagree"
    assert written == on_list, "lessons/ and syllabus.LESSONS disagree"
    numbers = [lesson.number for lesson in syllabus.LESSONS]
    assert numbers == [f"{index:02d}" for index in range(len(numbers))], numbers


def test_navigation_and_readme_table_follow_the_list():
    stale = [str(path.relative_to(ROOT)) for path in syllabus.stale_files()]
    assert not stale, f"run `make nav`: {stale}"


def test_run_parameters_name_parameters_each_lesson_has():
    for name, values in run_parameters(ROOT / "build" / "unused").items():
        defined = parameter_names(syllabus.lesson(name).notebook)  # exactly one such cell
        assert set(values) <= defined, (name, set(values) - defined)


def _markdown_texts():
    """(where, markdown text) for every page and notebook markdown cell a learner reads."""
    pages = [ROOT / "README.md", ROOT / "STYLE.md", *sorted(LESSONS.glob("*.md")),
             *sorted(HOMEWORK.glob("*.md"))]
    for page in pages:
        yield page, page.read_text()
    for notebook_path in [*RULED_NOTEBOOKS]:
        notebook = nbformat.read(notebook_path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "markdown":
                yield notebook_path, cell.source


LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_every_relative_link_points_at_a_file_that_exists():
    broken = []
    for where, text in _markdown_texts():
        for target in LINK.findall(text):
            parts = urllib.parse.urlsplit(target)
            if parts.scheme or not parts.path:
                continue
            if not (where.parent / urllib.parse.unquote(parts.path)).exists():
                broken.append(f"{where.relative_to(ROOT)} -> {target}")
    assert not broken, "broken links:\n" + "\n".join(broken)


def long_cell_exceptions():
    """Cell ids STYLE.md allows to be longer than 15 lines: `notebook-stem#cell-id`."""
    section = STYLE.read_text().split("### Longer cells", 1)
    assert len(section) == 2, "STYLE.md lacks its '### Longer cells' list"
    block = section[1].split("\n#", 1)[0]
    return set(re.findall(r"`([\w.-]+#[\w-]+)`", block))


@pytest.mark.parametrize("path", RULED_NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_cells_are_short_and_each_follows_prose(path):
    notebook = nbformat.read(path, as_version=4)
    allowed = long_cell_exceptions()
    problems = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        where = f"{path.stem}#{cell.get('id', index)}"
        if index == 0 or notebook.cells[index - 1].cell_type != "markdown":
            problems.append(f"{where}: a code cell must follow a markdown cell")
        lines = len(cell.source.strip("\n").splitlines())
        if lines > MAX_CELL_LINES and where not in allowed:
            problems.append(f"{where}: {lines} lines (at most {MAX_CELL_LINES})")
    assert not problems, "\n".join(problems)


def test_the_exception_list_names_only_cells_that_exist_and_are_long():
    cells = {}
    for path in RULED_NOTEBOOKS:
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            cells[f"{path.stem}#{cell.get('id', index)}"] = cell
    for name in long_cell_exceptions():
        assert name in cells, f"STYLE.md lists {name}, which does not exist"
        lines = len(cells[name].source.strip("\n").splitlines())
        assert lines > MAX_CELL_LINES, f"STYLE.md lists {name}, which has only {lines} lines"


def test_the_style_check_catches_a_long_cell_and_a_cell_without_prose(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_markdown_cell("Prose."),
        nbformat.v4.new_code_cell("\n".join(f"y{i} = {i}" for i in range(16))),
    ])
    path = tmp_path / "demo.ipynb"
    nbformat.write(notebook, path)
    with pytest.raises(AssertionError) as failure:
        test_notebook_cells_are_short_and_each_follows_prose(path)
    assert "must follow a markdown cell" in str(failure.value)
    assert "16 lines" in str(failure.value)


@pytest.mark.parametrize("lesson", syllabus.LESSONS, ids=lambda lesson: lesson.name)
def test_every_written_lesson_ends_with_answered_questions_and_an_exercise(lesson):
    text = lesson.written.read_text()
    assert "## Check yourself" in text and "## Exercise" in text, lesson.name
    questions = text.split("## Check yourself", 1)[1].split("## Exercise", 1)[0]
    exercise = text.split("## Exercise", 1)[1]
    assert questions.count("<details>") >= 2, f"{lesson.name}: answer each question in <details>"
    assert "<details>" in exercise, f"{lesson.name}: give the exercise's solution in <details>"
