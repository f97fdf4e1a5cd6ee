"""What lessons 06-08 tell a learner to type: the function's architecture, the image's platform,
and the one tag on everything the course creates (which `make aws-clean` looks for)."""

import re

import nbformat

from serverless_dl.aws.deploy import COURSE_TAG_KEY, COURSE_TAG_VALUE
from serverless_dl.lessons import syllabus

# How each service's CLI takes the course's tag.
TAG_FORMS = {
    "ecr": f"Key={COURSE_TAG_KEY},Value={COURSE_TAG_VALUE}",
    "iam": f"Key={COURSE_TAG_KEY},Value={COURSE_TAG_VALUE}",
    "lambda": f"{COURSE_TAG_KEY}={COURSE_TAG_VALUE}",
}


def code_cells(name: str) -> list[nbformat.NotebookNode]:
    """The code cells of lesson `name`, as committed."""
    notebook = nbformat.read(syllabus.lesson(name).notebook, as_version=4)
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def commands(name: str) -> list[str]:
    """Every shell command of lesson `name`'s %%bash cells, continuation lines joined."""
    found = []
    for cell in code_cells(name):
        if cell.source.startswith("%%bash"):
            joined = re.sub(r"\\\n\s*", "", cell.source)
            found += [line.strip() for line in joined.splitlines()[1:] if line.strip()]
    return found


def demonstrates_a_failure(line: str) -> bool:
    """A command shown failing on purpose (its error is the lesson), not one that creates."""
    return line.endswith("|| true")


def test_lesson_07_creates_an_x86_64_function_from_an_image():
    created = [line for line in commands("07-ecr-lambda")
               if "aws lambda create-function" in line and not demonstrates_a_failure(line)]
    assert len(created) == 1, created
    assert "--package-type Image" in created[0] and "--architectures x86_64" in created[0]


def test_lesson_06_builds_the_function_images_for_linux_amd64():
    builds = [line for line in commands("06-docker")
              if line.startswith("docker build") and "-f docker/Dockerfile" in line]
    assert len(builds) == 2, f"lesson 06 should build the classic and the modern image: {builds}"
    assert all("--platform linux/amd64" in line for line in builds), builds


def test_everything_lesson_07_creates_carries_the_course_tag():
    created = [line for line in commands("07-ecr-lambda")
               if re.search(r"aws \w+ create-", line) and not demonstrates_a_failure(line)]
    services = {line.split()[line.split().index("aws") + 1] for line in created}
    assert services == {"ecr", "iam", "lambda"}, created
    for line in created:
        service = line.split()[line.split().index("aws") + 1]
        assert f"--tags {TAG_FORMS[service]}" in line, line


def test_lesson_08_tags_its_api_its_key_and_its_plan():
    source = "\n".join(cell.source for cell in code_cells("08-api-gateway"))
    for call in ("create_rest_api", "create_api_key", "create_usage_plan"):
        arguments = re.search(rf"{call}\((.*?)\)\[?", source, re.DOTALL)
        assert arguments and "tags=COURSE_TAGS" in arguments[1], call
