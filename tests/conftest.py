"""Fixtures shared by the test suite, and the markers that `make test-quick` leaves out."""

import os

import pytest

from serverless_dl.containers.docker_engine import DockerUnavailable, ensure_engine
from serverless_dl.lessons.notebooks import DOCKER_LESSONS

# Every test whose fixtures include one of these needs Docker; fixtures built on them
# (function_images, base_images, ...) are covered too, since pytest lists the whole closure.
DOCKER_FIXTURES = {"docker_engine"}
# Tests that reach Docker other than through their fixtures' closure, by test function name.
DOCKER_TESTS = {
    # Reads the operations log that the Docker lessons 07-08 leave under nbval.
    "test_the_course_policy_allows_every_aws_call_the_lessons_and_the_cleanup_made",
    # `sam validate` runs with sam_local's environment, which starts an engine if none runs.
    "test_the_template_passes_sam_validate_lint",
    "test_the_fastapi_template_passes_sam_validate_lint",
}
# The fixture `adapter` of test_other_clouds asks for `docker_engine` for Cloud Run's adapter,
# which runs in a container.
DOCKER_ADAPTERS = {"cloud-run"}
# test_notebooks's test of each lesson asks for `docker_engine` for the lessons that need it.
LESSON_TEST = "test_lesson_reproduces_its_committed_outputs"
# Tests that retrain or regenerate a committed model to compare with it (minutes each).
RETRAIN_TESTS = {
    "test_make_model_reproduces_the_committed_model",
    "test_make_model_reproduces_the_sample_images",
    "test_make_model_reproduces_the_tflite_files",
    "test_make_successor_model_check_finds_no_drift",
    "test_make_composition_reproduces_the_committed_files",
    "test_make_model_reproduces_the_onnx_file",
}
# Lessons whose run trains a model (lesson 00, even in its short mode).
RETRAIN_LESSONS = {"00-last-weeks-model"}


def _name_and_parameters(item: pytest.Item) -> tuple[str, dict]:
    """The test function's name (without parameter ids) and its parameters."""
    parameters = item.callspec.params if hasattr(item, "callspec") else {}
    return getattr(item, "originalname", item.name), parameters


def _needs_docker(item: pytest.Item) -> bool:
    name, parameters = _name_and_parameters(item)
    if DOCKER_FIXTURES & set(getattr(item, "fixturenames", ())) or name in DOCKER_TESTS:
        return True
    if name == LESSON_TEST and parameters.get("name") in DOCKER_LESSONS:
        return True
    served = not _parametrized_directly(item, "adapter")  # the fixture, not a plain name
    return served and parameters.get("adapter") in DOCKER_ADAPTERS


def _parametrized_directly(item: pytest.Item, argument: str) -> bool:
    """Whether `argument` comes from the test's own `parametrize`, rather than a fixture."""
    for marker in item.iter_markers("parametrize"):
        names = marker.args[0]
        if argument in (names.replace(" ", "").split(",") if isinstance(names, str) else names):
            return True
    return False


def _retrains(item: pytest.Item) -> bool:
    name, parameters = _name_and_parameters(item)
    if name == LESSON_TEST:
        return parameters.get("name") in RETRAIN_LESSONS
    return name in RETRAIN_TESTS


def pytest_collection_modifyitems(items):
    """Mark the tests that need Docker or retrain a model, so `make test-quick` can skip them."""
    for item in items:
        if _needs_docker(item):
            item.add_marker(pytest.mark.docker)
        if _retrains(item):
            item.add_marker(pytest.mark.retrain)


@pytest.fixture(scope="session")
def docker_engine():
    """A Docker engine that answers, started for the session if none runs.

    Docker tests are mandatory in CI (`CI=true`): there, an unavailable engine
    fails them. Elsewhere they are skipped with the reason.
    """
    try:
        engine = ensure_engine()
    except DockerUnavailable as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Docker engine unavailable: {error}")
        pytest.skip(f"Docker engine unavailable: {error}")
    yield engine
    engine.stop()  # only stops a dockerd this session started


@pytest.fixture(scope="session")
def grader_sandbox():
    """The homework grader's sandbox (bubblewrap) works here.

    Like Docker, mandatory in CI (`CI=true`) and skipped elsewhere with the reason.
    """
    from serverless_dl.homework.sandbox import sandbox_problem

    if problem := sandbox_problem():
        if os.environ.get("CI") == "true":
            pytest.fail(f"grader sandbox unavailable: {problem}")
        pytest.skip(f"grader sandbox unavailable: {problem}")


@pytest.fixture(scope="session")
def function_images(docker_engine):
    """The course's two function images (lesson 05), built once for the session.

    Docker's layer cache makes this take seconds when nothing changed.
    """
    from serverless_dl.containers.function_images import FUNCTION_IMAGES, build_function_image
    from serverless_dl.containers.lambda_base import ensure_base_images

    ensure_base_images(log=lambda message: None)  # both at once: debootstrap waits on the mirror
    return {flavour: build_function_image(flavour) for flavour in FUNCTION_IMAGES}


@pytest.fixture(scope="session")
def lesson_operations_log():
    """The AWS calls of lessons 07, 08 and 10, as an operations log (aws.course_policy).

    A hand-written sample of today's lessons. Point it at the `operations.jsonl`
    that the local account front writes while the lessons run under nbval.
    """
    from pathlib import Path

    return Path(__file__).parent / "aws" / "aws_operations" / "lessons-07-08-sample.jsonl"


@pytest.fixture(scope="session", autouse=True)
def local_aws_accounts():
    """Stop, when the session ends, the local AWS accounts its lessons and tests started.

    Lessons 07 and 08 start one and leave it running for the next lesson, as a
    learner's would; an account someone else started is left alone.
    """
    from serverless_dl.aws.local_account import accounts_started_inside

    with accounts_started_inside():
        yield


@pytest.fixture(scope="session")
def chromium_browser():
    """A headless Chromium (Playwright `Browser`) for the session, from serverless_dl.web.browser.

    Mandatory in CI (`CI=true`): there, a missing browser fails the test; elsewhere it is
    skipped with the reason.
    """
    from serverless_dl.web.browser import BrowserUnavailable, chromium, skip_or_fail

    try:
        with chromium() as browser:
            yield browser
    except BrowserUnavailable as error:  # raised only while starting, before the yield
        skip_or_fail(error)
