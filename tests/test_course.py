"""The course runner's pieces that do not need a full run."""

from pathlib import Path

from serverless_dl.course import Step, format_summary
from serverless_dl.notebooks import lesson_names, run_parameters


def test_run_parameters_cover_every_lesson_and_stay_inside_the_output_folder(tmp_path):
    parameters = run_parameters(tmp_path)
    assert set(parameters) <= set(lesson_names())
    for values in parameters.values():
        for value in values.values():
            if isinstance(value, str) and "/" in value:
                assert Path(value).is_relative_to(tmp_path), value


def test_the_summary_lists_every_step_and_says_what_failed():
    steps = [
        Step("00-a", True, 1.0),
        Step("01-b", False, 2.5, "boom"),
        Step("pants", True, 0.3, "pants (0.99)"),
    ]
    summary = format_summary(steps, [("clothing-model.tflite", 2048)])
    assert "00-a" in summary and "FAILED" in summary and "boom" in summary
    assert "pants (0.99)" in summary and "2.0 KiB" in summary
    assert summary.strip().endswith("2/3 steps ok; failed: 01-b")
