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
def function_images(docker_engine):
    """The course's two function images (lesson 05), built once for the session.

    Docker's layer cache makes this take seconds when nothing changed.
    """
    from serverless_dl.function_images import FUNCTION_IMAGES, build_function_image
    from serverless_dl.lambda_base import ensure_base_images

    ensure_base_images(log=lambda message: None)  # both at once: debootstrap waits on the mirror
    return {flavour: build_function_image(flavour) for flavour in FUNCTION_IMAGES}
