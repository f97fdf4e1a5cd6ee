"""The tests that tests/conftest.py marks by name exist, so `make test-quick` leaves them out.

A renamed test would otherwise lose its `docker` or `retrain` marker silently and make the
quick run start Docker or retrain a model.
"""

from conftest import DOCKER_TESTS, LESSON_TEST, RETRAIN_LESSONS, RETRAIN_TESTS

from serverless_dl.base.paths import TESTS
from serverless_dl.lessons.notebooks import lesson_names


def test_every_test_marked_by_name_is_defined():
    sources = "\n".join(path.read_text() for path in TESTS.rglob("test_*.py"))
    named = sorted(DOCKER_TESTS | RETRAIN_TESTS | {LESSON_TEST})
    assert [name for name in named if f"def {name}(" not in sources] == []


def test_every_lesson_marked_as_retraining_is_a_lesson():
    assert RETRAIN_LESSONS <= set(lesson_names())
