"""Fixtures shared by the test suite."""

import os

import pytest

from serverless_dl.docker_engine import DockerUnavailable, ensure_engine


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
    from serverless_dl.function_images import FUNCTION_IMAGES, build_function_image
    from serverless_dl.lambda_base import ensure_base_images

    ensure_base_images(log=lambda message: None)  # both at once: debootstrap waits on the mirror
    return {flavour: build_function_image(flavour) for flavour in FUNCTION_IMAGES}


@pytest.fixture(scope="session")
def lesson_operations_log():
    """The AWS calls of lessons 07, 08 and 10, as an operations log (serverless_dl.course_policy).

    A hand-written sample of today's lessons. Point it at the `operations.jsonl`
    that the local account front writes while the lessons run under nbval.
    """
    from pathlib import Path

    return Path(__file__).parent / "aws_operations" / "lessons-07-08-sample.jsonl"


@pytest.fixture(scope="session", autouse=True)
def local_aws_accounts():
    """Stop, when the session ends, the local AWS accounts its lessons and tests started.

    Lessons 07 and 08 start one and leave it running for the next lesson, as a
    learner's would; an account someone else started is left alone.
    """
    from serverless_dl.local_account import accounts_started_inside

    with accounts_started_inside():
        yield


@pytest.fixture(scope="session")
def chromium_browser():
    """A headless Chromium (Playwright `Browser`) for the session, from serverless_dl.browser.

    Mandatory in CI (`CI=true`): there, a missing browser fails the test; elsewhere it is
    skipped with the reason.
    """
    from serverless_dl.browser import BrowserUnavailable, chromium, skip_or_fail

    try:
        with chromium() as browser:
            yield browser
    except BrowserUnavailable as error:  # raised only while starting, before the yield
        skip_or_fail(error)
