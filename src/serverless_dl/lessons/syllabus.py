"""The one list of lessons, and everything that is generated from it.

`LESSONS` is the course order. The README's lesson table, the Previous/Next
navigation of every notebook and written lesson, the homework page's links,
the lessons `make course` runs and the lessons that need Docker or the AWS
target all come from it; nothing else keeps its own copy.

Command line::

    python -m serverless_dl.lessons.syllabus          # rewrite navigation and the README table
    python -m serverless_dl.lessons.syllabus --check  # exit 1 when a file differs from the list
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from serverless_dl.base.paths import HOMEWORK, NOTEBOOKS, ROOT
from serverless_dl.base.paths import LESSONS as WRITTEN_LESSONS


@dataclass(frozen=True)
class Lesson:
    """One lesson: a notebook `notebooks/<name>.ipynb` and a written lesson `lessons/<name>.md`."""

    number: str
    slug: str
    title: str
    summary: str
    docker: bool = False  # builds or runs containers: needs a Docker engine
    aws: bool = False  # talks to AWS (or the local stand-ins) through `aws_profile`

    @property
    def name(self) -> str:
        """`NN-slug`, the stem of the notebook and of the written lesson."""
        return f"{self.number}-{self.slug}"

    @property
    def heading(self) -> str:
        """`NN · Title`, how navigation and headings name the lesson."""
        return f"{self.number} · {self.title}"

    @property
    def notebook(self) -> Path:
        """The lesson's notebook."""
        return NOTEBOOKS / f"{self.name}.ipynb"

    @property
    def written(self) -> Path:
        """The lesson's written lesson."""
        return WRITTEN_LESSONS / f"{self.name}.md"


LESSONS: tuple[Lesson, ...] = (
    Lesson("00", "last-weeks-model", "Last week's model",
           "Generate the clothing dataset, train the Keras CNN the course deploys"),
    Lesson("01", "lambda-basics", "Lambda basics",
           "Handler, event, context, test events; the real Runtime Interface Emulator; "
           "the 3 s timeout"),
    Lesson("02", "tensorflow-lite", "TensorFlow Lite",
           "Convert; float16 and dynamic-range quantization; the interpreter; parity with Keras"),
    Lesson("03", "removing-tensorflow", "Removing TensorFlow",
           "Preprocess with Pillow or keras-image-helper; infer with tflite-runtime, LiteRT "
           "and ONNX Runtime"),
    Lesson("04", "lambda-code", "The Lambda code",
           "The plain handler: model loaded once, `predict(url)`, `lambda_handler`; "
           "export to `docker/lambda_function.py`; run it under the RIE"),
    Lesson("05", "hardening", "Hardening the handler",
           "Attack the naive download, then add one guard at a time: SSRF, redirects, "
           "size, bombs, slow servers, bad bodies; export `docker/image_source.py`"),
    Lesson("06", "docker", "Docker",
           "`docker build` on the Lambda base image for x86_64; `docker run`; the float32 JSON "
           "error; run it as Lambda does", docker=True),
    Lesson("07", "ecr-lambda", "ECR and Lambda",
           "`aws ecr create-repository`, `docker push`, a role, `aws lambda create-function`, "
           "`aws lambda invoke`; cost per million predictions", docker=True, aws=True),
    Lesson("08", "api-gateway", "API Gateway",
           "REST API, `POST /predict`, proxy integration, stage URL; "
           "\"Missing Authentication Token\"; API key and usage plan; the SAM template",
           docker=True, aws=True),
    Lesson("09", "web-page", "A web page",
           "A static page on its own origin calls the API: CORS and the preflight, binary "
           "media types, errors shown as text; tested in Chromium through `sam local "
           "start-api`; the same API as FastAPI + Mangum, compared", docker=True),
    Lesson("10", "versions", "Versions and aliases",
           "Retrain the successor model; `publish-version`, aliases `live` and `staging`, a "
           "weighted alias for a canary, promote and roll back; a resource policy per alias; "
           "`AutoPublishAlias` and `DeploymentPreference` in the SAM template",
           docker=True, aws=True),
    Lesson("11", "composition", "Composing a model from two functions",
           "Cut the model into a backbone and a head, one function each; the same answers as "
           "the single model; a new head for a new task deployed alone; size, latency and cost "
           "against the single function", docker=True, aws=True),
    Lesson("12", "other-clouds", "Other clouds",
           "One core, thin adapters: Google Cloud Run functions (Functions Framework), Cloud Run "
           "(a container on `$PORT`), Azure Functions; the hostile-input table on every adapter; "
           "limits and prices compared, with sources", docker=True),
    Lesson("13", "performance", "Performance",
           "Cold start, warm latency, memory, size and agreement on TensorFlow, `tf.lite`, "
           "tflite-runtime, LiteRT and ONNX Runtime (`make bench`); cost per million predictions; "
           "which runtime, weights, memory and packaging to deploy"),
    Lesson("14", "zip", "Packaging as a .zip",
           "`pip install --target` with Lambda-platform wheels (`make zip`); 50 MB zipped, "
           "250 MB unzipped; the archive under the RIE; `aws lambda create-function "
           "--zip-file`, the SAM template; .zip or container image", docker=False),
)  # fmt: skip

HOMEWORK_PAGE = HOMEWORK / "README.md"
HOMEWORK_NOTEBOOK = HOMEWORK / "homework.ipynb"
README = ROOT / "README.md"
TABLE_START = "<!-- lessons: generated by `make nav` (lessons/syllabus.py); do not edit -->"
TABLE_END = "<!-- lessons: end -->"


def lesson(name: str) -> Lesson:
    """The lesson called `name` (`NN-slug`); a one-line KeyError for any other name."""
    for candidate in LESSONS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no lesson {name!r}; the lessons are {', '.join(names())}")


def names() -> list[str]:
    """The lesson names in course order."""
    return [entry.name for entry in LESSONS]


def neighbours(entry: Lesson) -> tuple[Lesson | None, Lesson | None]:
    """The lessons before and after `entry` (None at either end)."""
    index = LESSONS.index(entry)
    before = LESSONS[index - 1] if index > 0 else None
    after = LESSONS[index + 1] if index + 1 < len(LESSONS) else None
    return before, after


# --- navigation -----------------------------------------------------------------

def written_navigation(entry: Lesson) -> str:
    """The line that opens and closes a written lesson."""
    before, after = neighbours(entry)
    parts = [f"← [{before.heading}]({before.name}.md)" if before else None,
             "[Index](../README.md#lessons)",
             "[Troubleshooting](troubleshooting.md)", "[Glossary](glossary.md)",
             f"[{after.heading}]({after.name}.md) →" if after else
             "[Homework](../homework/README.md) →"]
    return "> " + " · ".join(part for part in parts if part)


def notebook_navigation(entry: Lesson) -> str:
    """The paragraph that ends a notebook's first cell."""
    before, after = neighbours(entry)
    previous = f"← Previous: [{before.heading}]({before.name}.ipynb)" if before else None
    following = (f"Next: [{after.heading}]({after.name}.ipynb) →" if after
                 else "Next: [Homework](../homework/homework.ipynb) →")
    parts = [previous, f"Written lesson: [lessons/{entry.name}.md](../lessons/{entry.name}.md)",
             "[Troubleshooting](../lessons/troubleshooting.md)", following]
    return " ·\n".join(part for part in parts if part)


def homework_navigation() -> str:
    """The line that opens and closes the homework page."""
    last = LESSONS[-1]
    return f"> ← [{last.heading}](../lessons/{last.name}.md) · [Index](../README.md#lessons)"


def homework_notebook_navigation() -> str:
    """The paragraph that ends the homework notebook's first cell."""
    last = LESSONS[-1]
    return (f"← Previous: [{last.heading}](../notebooks/{last.name}.ipynb) ·\n"
            "Questions and rules: [homework/README.md](README.md) ·\n"
            "Answers file: [homework/answers.yaml](answers.yaml)")


def readme_table() -> str:
    """The README's lesson table."""
    rows = ["| # | Notebook | Written lesson | What you do |", "|---|---|---|---|"]
    for entry in LESSONS:
        rows.append(
            f"| {entry.number} | [{entry.title}](notebooks/{entry.name}.ipynb) | "
            f"[lesson](lessons/{entry.name}.md) | {entry.summary} |"
        )
    return "\n".join(rows)


# --- rewriting files --------------------------------------------------------------

_WRITTEN_NAV = re.compile(r"> ← .*|> \[Index\].*")
_NOTEBOOK_NAV_MARKERS = ("← Previous:", "Written lesson:", "Next: [")
_HEADING = re.compile(r"^# \d\d · [^:\n]*", re.MULTILINE)


def _with_written_navigation(text: str, entry: Lesson) -> str:
    nav = written_navigation(entry)
    lines = text.strip("\n").split("\n")
    if _WRITTEN_NAV.fullmatch(lines[0]):
        lines[0] = nav
    else:
        lines[:0] = [nav, ""]
    if _WRITTEN_NAV.fullmatch(lines[-1]):
        lines[-1] = nav
    else:
        lines += ["", nav]
    text = "\n".join(lines) + "\n"
    return _HEADING.sub(f"# {entry.heading}", text, count=1)


def _first_cell_with_navigation(source: str, navigation: str, heading: str | None) -> str:
    """The first cell's text with its last paragraph replaced by (or followed by) `navigation`."""
    paragraphs = source.rstrip().split("\n\n")
    if any(paragraphs[-1].startswith(marker) for marker in _NOTEBOOK_NAV_MARKERS):
        paragraphs.pop()
    text = "\n\n".join([*paragraphs, navigation])
    return _HEADING.sub(f"# {heading}", text, count=1) if heading else text


def _notebook_with_navigation(path: Path, navigation: str, heading: str | None) -> str:
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    first = notebook.cells[0]
    first.source = _first_cell_with_navigation(first.source, navigation, heading)
    return nbformat.writes(notebook) + "\n"


def _with_readme_table(text: str) -> str:
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"README.md lacks the markers {TABLE_START!r} and {TABLE_END!r}")
    return text[: start + len(TABLE_START)] + "\n\n" + readme_table() + "\n\n" + text[end:]


def generated_files() -> dict[Path, str]:
    """Every file the list generates a part of, with the content it should have."""
    files = {}
    for entry in LESSONS:
        if entry.written.is_file():
            files[entry.written] = _with_written_navigation(entry.written.read_text(), entry)
        if entry.notebook.is_file():
            files[entry.notebook] = _notebook_with_navigation(
                entry.notebook, notebook_navigation(entry), entry.heading
            )
    page = HOMEWORK_PAGE.read_text()
    lines = page.strip("\n").split("\n")
    lines[0] = lines[-1] = homework_navigation()
    files[HOMEWORK_PAGE] = "\n".join(lines) + "\n"
    files[HOMEWORK_NOTEBOOK] = _notebook_with_navigation(
        HOMEWORK_NOTEBOOK, homework_notebook_navigation(), None
    )
    files[README] = _with_readme_table(README.read_text())
    return files


def stale_files() -> list[Path]:
    """The files whose generated part differs from what the list gives."""
    return [path for path, text in generated_files().items() if path.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or `--check`) the navigation and the README table from `LESSONS`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare, do not write")
    args = parser.parse_args(argv)
    missing = [str(path.relative_to(ROOT)) for entry in LESSONS
               for path in (entry.notebook, entry.written) if not path.is_file()]
    if missing:
        print(f"missing lesson files: {', '.join(missing)}", file=sys.stderr)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date; run `make nav`", file=sys.stderr)
        return 1 if stale or missing else 0
    for path, text in generated_files().items():
        if path.read_text() != text:
            path.write_text(text)
            print(f"updated {path.relative_to(ROOT)}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
