"""lessons/deploy.md: its commands name files, targets and parameters that exist, in order.

The page is not run against AWS (CI has no account); this checks what can
go stale without anyone noticing: paths, the make target, the notebook
parameters of the papermill commands, and the prices it quotes.
"""

import re

import pytest

from serverless_dl.aws.pricing import LAMBDA_PRICES, PRICES_CHECKED, cost_of
from serverless_dl.base.paths import LESSONS, ROOT
from serverless_dl.lessons.notebooks import parameter_names
from serverless_dl.lessons.syllabus import LESSONS as LESSON_LIST

PAGE = LESSONS / "deploy.md"
POLICY_NAME = "ServerlessDeepLearningCourse"


@pytest.fixture(scope="module")
def page() -> str:
    return PAGE.read_text()


@pytest.fixture(scope="module")
def commands(page) -> str:
    """The page's shell blocks, continuation lines joined, runs of blanks made one."""
    blocks = re.findall(r"```bash\n(.*?)```", page, re.DOTALL)
    return re.sub(r"[ \t]+", " ", "\n".join(blocks).replace("\\\n", " "))


def test_every_file_the_commands_read_exists(commands):
    read = re.findall(r"file://([\w./-]+)", commands)
    read += re.findall(r"(?<![\w/])((?:aws-account|notebooks|docker)/[\w.-]+)", commands)
    written = set(re.findall(r">\s*([\w./-]+)", commands))  # files the page makes itself
    assert read, "the page should read the committed policy and budget files"
    missing = sorted({path for path in read if path not in written and not (ROOT / path).exists()})
    assert not missing, f"the page names files that do not exist: {missing}"
    assert "file://aws-account/course-policy.json" in commands


def test_the_policy_is_created_before_it_is_attached_and_under_one_name(commands):
    created = commands.index(f"create-policy --profile admin --policy-name {POLICY_NAME}")
    for use in (f"Name={POLICY_NAME}", f"policy/{POLICY_NAME}"):
        assert commands.index(use) > created, use
    assert commands.index("aws budgets create-budget") < created, "the budget comes first"
    assert commands.index("make aws-clean") > commands.index("papermill")


def test_the_make_target_and_its_variables_exist(commands):
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^aws-clean:", makefile, re.MULTILINE)
    for variable in re.findall(r"make aws-clean((?: \w+=\S+)*)", commands):
        for name in re.findall(r"(\w+)=", variable):
            assert f"$({name})" in makefile, f"make aws-clean ignores {name}"


def test_papermill_commands_set_parameters_the_notebooks_have(commands):
    runs = re.findall(r"papermill (notebooks/\S+\.ipynb) \S+((?: -p \w+ \S+)+)", commands)
    aws_lessons = {f"notebooks/{lesson.name}.ipynb" for lesson in LESSON_LIST if lesson.aws}
    assert {notebook for notebook, _ in runs} == aws_lessons  # every lesson that talks to AWS
    for notebook, options in runs:
        defined = parameter_names(ROOT / notebook)
        assert set(re.findall(r"-p (\w+)", options)) <= defined, notebook


def test_the_lambda_prices_and_the_example_come_from_the_course_table(page):
    prices = LAMBDA_PRICES["x86_64"]
    assert f"${prices.per_million_requests:.2f} per million requests" in page
    assert f"${prices.per_gb_second:.10f} per GB-second (x86_64)" in page
    assert PRICES_CHECKED in page
    example = cost_of(1_000_000, 100, 1024)
    assert f"${example.requests_usd:.2f} of Lambda requests" in page
    assert f"${example.duration_usd:.2f} of Lambda compute" in page
