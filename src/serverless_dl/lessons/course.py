"""`make course`: run the whole course end to end and print a summary.

Executes every lesson in order with papermill (lesson 00 in its short mode)
into `build/course/`, which is outside version control, so the committed files
stay untouched. Then it serves the handler exported by lesson 04 under the
Runtime Interface Emulator and asks it about `images/pants.jpg`.

Lessons 05-07 need a Docker engine: one is found or started (as root, with
Debian's dockerd) before they run; where none can be had they are skipped
with the reason (and fail when `CI=true`).

While it runs it prints one progress line per lesson. Everything else the
lessons' kernels and libraries print (TensorFlow's start-up notices, papermill's
log, asyncio's shutdown warnings) goes to `<out>/course.log`, which the summary
names, so the terminal shows only progress and results.

The summary lists each lesson as ok, skipped or failed with its time, the
sizes of the models the run made, the figures the lessons left behind (each
writes a `summary.json` into its work folder: image sizes, predictions
through the container, the Lambda invoke and the API), and the prediction of
the exported handler. The exit status is non-zero when anything failed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from serverless_dl.aws.local_account import accounts_started_inside
from serverless_dl.base.descriptors import descriptors_to
from serverless_dl.base.paths import BUILD, IMAGES
from serverless_dl.containers.docker_engine import DockerUnavailable, ensure_engine
from serverless_dl.function.client import predict
from serverless_dl.function.imageserver import serve_directory
from serverless_dl.function.lambda_local import local_function
from serverless_dl.lessons.notebooks import (
    DOCKER_LESSONS,
    execute,
    forget_enclosing_make,
    lesson_names,
    read_summary,
    run_parameters,
)

COURSE_OUT = BUILD / "course"
LOG_NAME = "course.log"
_run_log: dict[str, Path] = {}  # where main() sent the library output, for interpreter shutdown
PROBE_IMAGE = "pants.jpg"


@dataclass
class Step:
    """One line of the summary."""

    name: str
    ok: bool
    seconds: float
    detail: str = ""
    skipped: bool = False


def _last_line(error: Exception) -> str:
    text = str(error).strip()
    return (text.splitlines()[-1] if text else type(error).__name__)[:160]


def docker_unavailable_reason() -> str:
    """Why lessons 05-07 cannot run here, or "" when a Docker engine answers (or was started)."""
    try:
        ensure_engine()  # sets DOCKER_HOST, which the lesson kernels inherit
    except DockerUnavailable as error:
        return str(error)
    return ""


def run_lessons(out: Path, short: bool) -> list[Step]:
    """Execute every lesson into `out`; keep going after a failure so the summary is complete."""
    parameters = run_parameters(out / "run", short=short)
    no_docker: str | None = None
    steps = []
    names = lesson_names()
    for name in names:
        if name in DOCKER_LESSONS:
            no_docker = docker_unavailable_reason() if no_docker is None else no_docker
            if no_docker:
                in_ci = os.environ.get("CI") == "true"  # CI must not pass without the containers
                steps.append(Step(name, not in_ci, 0.0, f"no Docker: {no_docker}"[:160], not in_ci))
                continue
        print(f"[{len(steps) + 1}/{len(names)}] {name} ...", end=" ", flush=True)
        started = time.perf_counter()
        try:
            execute(name, out / f"{name}.ipynb", parameters.get(name, {}))
            steps.append(Step(name, True, time.perf_counter() - started))
        except Exception as error:  # a failed lesson must not hide the others
            steps.append(Step(name, False, time.perf_counter() - started, _last_line(error)))
        print(f"{'ok' if steps[-1].ok else 'FAILED'} ({steps[-1].seconds:.0f} s)", flush=True)
    return steps


def lesson_figures(run_dir: Path) -> list[tuple[str, str]]:
    """(label, value) of every figure the lessons of a run left in their `summary.json`."""
    figures = []
    for values in run_parameters(run_dir).values():
        if "work_dir" in values:
            summary = read_summary(values["work_dir"])
            figures += [(label, str(value)) for label, value in summary.items()]
    return figures


def predict_through_emulator(run_dir: Path) -> Step:
    """Serve the handler exported by this run under the RIE and classify the probe image."""
    started = time.perf_counter()
    try:
        with (
            serve_directory(IMAGES) as images_url,
            local_function(
                "classic",
                handler_script=run_dir / "lambda_function.py",
                model=run_dir / "models" / "clothing-model.tflite",
            ) as function,
        ):
            result = predict(f"{images_url}/{PROBE_IMAGE}", function.url)
        detail = f"{result['prediction']} ({result['score']:.3f})"
        return Step(f"{PROBE_IMAGE} via RIE", True, time.perf_counter() - started, detail)
    except Exception as error:  # reported in the summary, not as a traceback
        detail = f"{type(error).__name__}: {error}".splitlines()[0][:160]
        return Step(f"{PROBE_IMAGE} via RIE", False, time.perf_counter() - started, detail)


def model_sizes(models_dir: Path) -> list[tuple[str, int]]:
    """(file name, size in bytes) of every model file the run produced."""
    files = sorted(path for path in models_dir.glob("*") if path.is_file())
    return [(path.name, path.stat().st_size) for path in files]


def format_summary(
    steps: list[Step], sizes: list[tuple[str, int]], figures: list[tuple[str, str]] = ()
) -> str:
    """The summary table printed at the end of `make course`."""
    width = max(len(step.name) for step in steps)
    lines = ["", "Course summary", "=" * 14, ""]
    for step in steps:
        status = "skipped" if step.skipped else "ok" if step.ok else "FAILED"
        line = f"{step.name:<{width}}  {status:<7}  {step.seconds:7.1f} s  {step.detail}"
        lines.append(line.rstrip())
    if sizes:
        lines += ["", "Models"]
        name_width = max(len(name) for name, _ in sizes)
        lines += [f"  {name:<{name_width}}  {size / 1024:9.1f} KiB" for name, size in sizes]
    if figures:
        lines += ["", "From the lessons"]
        label_width = max(len(label) for label, _ in figures)
        lines += [f"  {label:<{label_width}}  {value}" for label, value in figures]
    failed = [step.name for step in steps if not step.ok]
    ok = len(steps) - len(failed)
    verdict = f"{ok}/{len(steps)} steps ok" + (f"; failed: {', '.join(failed)}" if failed else "")
    lines += ["", verdict]
    return "\n".join(lines)


@contextlib.contextmanager
def stderr_to(log_path: Path):
    """Send this process's standard error, and that of every process it starts, to `log_path`.

    Works on the file descriptor, not only `sys.stderr`, because the chatter comes from
    native libraries and from the notebook kernels, which inherit descriptor 2.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with descriptors_to(log_path):
        yield log_path


def main(argv: list[str] | None = None) -> int:
    """Run the course, print progress and the summary; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=COURSE_OUT, help=f"output folder (default {COURSE_OUT})"
    )
    parser.add_argument(
        "--full", action="store_true", help="train last week's model in full (about 3 minutes)"
    )
    args = parser.parse_args(argv)
    forget_enclosing_make()
    log_path = _run_log["path"] = args.out / LOG_NAME
    print(f"Running every lesson; library output goes to {log_path}", flush=True)
    steps = None
    with stderr_to(log_path):
        try:
            # The AWS lessons share a local AWS account that outlives them; stop it afterwards.
            with accounts_started_inside():
                steps = run_lessons(args.out, short=not args.full)
            steps.append(predict_through_emulator(args.out / "run"))
            figures = lesson_figures(args.out / "run")
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            return 130
        except Exception:  # a bug in the runner itself: the traceback goes to the log
            traceback.print_exc()
    if steps is None:
        print(f"the course runner failed; the traceback is at the end of {log_path}")
        return 2
    print(format_summary(steps, model_sizes(args.out / "run" / "models"), figures))
    print(f"Library output and warnings: {log_path}")
    return 0 if all(step.ok for step in steps) else 1


if __name__ == "__main__":
    status = main()
    # Interpreter shutdown still makes asyncio warn about the notebook clients' finished
    # tasks ("Task was destroyed but it is pending!"); that belongs in the log too.
    sys.stdout.flush()
    with contextlib.suppress(KeyError, OSError):
        log = _run_log["path"].open("ab")
        os.dup2(log.fileno(), 2)
    sys.exit(status)
