"""How lessons hand their headline figures to `make course`, and how it treats Docker lessons."""

import pytest

from serverless_dl.lessons import course
from serverless_dl.lessons.course import Step, format_summary, lesson_figures, run_lessons
from serverless_dl.lessons.notebooks import (
    DOCKER_LESSONS,
    read_summary,
    run_parameters,
    save_summary,
)


def test_a_summary_round_trips_in_order(tmp_path):
    figures = {"b image": "305 MB", "a prediction": "pants", "count": 3}
    save_summary(tmp_path / "lesson", figures)
    assert list(read_summary(tmp_path / "lesson").items()) == list(figures.items())
    assert read_summary(tmp_path / "nothing-here") == {}


def test_the_course_collects_figures_in_lesson_order(tmp_path):
    parameters = run_parameters(tmp_path)
    save_summary(parameters["07-ecr-lambda"]["work_dir"], {"via invoke": "pants"})
    save_summary(parameters["06-docker"]["work_dir"], {"via container": "pants"})
    assert lesson_figures(tmp_path) == [("via container", "pants"), ("via invoke", "pants")]
    summary = format_summary([Step("06-docker", True, 1.0)], [], lesson_figures(tmp_path))
    assert "From the lessons" in summary and "via invoke" in summary


def test_docker_lessons_have_work_folders_inside_the_run():
    for name in DOCKER_LESSONS:
        assert "work_dir" in run_parameters("/tmp/run")[name]


@pytest.mark.parametrize(("ci", "ok"), [("", True), ("true", False)])
def test_without_docker_the_docker_lessons_are_skipped_except_in_ci(monkeypatch, tmp_path, ci, ok):
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(course, "lesson_names", lambda: list(DOCKER_LESSONS))
    monkeypatch.setattr(course, "docker_unavailable_reason", lambda: "no engine here")
    monkeypatch.setattr(course, "execute", lambda *args: pytest.fail("must not execute"))
    steps = run_lessons(tmp_path, short=True)
    assert [step.name for step in steps] == list(DOCKER_LESSONS)
    assert all(step.ok is ok and step.skipped is ok and "no engine here" in step.detail
               for step in steps)  # fmt: skip
    assert ("skipped" in format_summary(steps, [])) is ok
