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
