"""The course runner's pieces that do not need a full run."""

from pathlib import Path

from serverless_dl.lessons.course import Step, format_summary
from serverless_dl.lessons.notebooks import lesson_names, run_parameters


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


def test_library_chatter_of_child_processes_goes_to_the_log_not_the_terminal(tmp_path, capfd):
    import subprocess
    import sys

    from serverless_dl.lessons.course import stderr_to

    log = tmp_path / "course.log"
    with stderr_to(log):
        chatter = "oneDNN custom operations are on"
        subprocess.run([sys.executable, "-c", f"import os; os.write(2, b'{chatter}\\n')"])
        print("progress line", flush=True)
    captured = capfd.readouterr()
    assert "progress line" in captured.out
    assert chatter not in captured.err and chatter in log.read_text()
