"""`make course`: run the whole course end to end and print a summary.

Executes every lesson in order with papermill (lesson 00 in its short mode)
into `build/course/`, which is outside version control, so the committed files
stay untouched. Then it serves the handler exported by lesson 04 under the
Runtime Interface Emulator and asks it about `images/pants.jpg`.

The summary lists each lesson as ok or failed with its time, the sizes of the
models the run made, and the prediction. The exit status is non-zero when
anything failed.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from serverless_dl.client import predict
from serverless_dl.imageserver import serve_directory
from serverless_dl.lambda_local import local_function
from serverless_dl.notebooks import execute, lesson_names, run_parameters
from serverless_dl.paths import BUILD, IMAGES

COURSE_OUT = BUILD / "course"
PROBE_IMAGE = "pants.jpg"


@dataclass
class Step:
    """One line of the summary."""

    name: str
    ok: bool
    seconds: float
    detail: str = ""


def run_lessons(out: Path, short: bool) -> list[Step]:
    """Execute every lesson into `out`; keep going after a failure so the summary is complete."""
    parameters = run_parameters(out / "run", short=short)
    steps = []
    for name in lesson_names():
        print(f"--> {name}", flush=True)
        started = time.perf_counter()
        try:
            execute(name, out / f"{name}.ipynb", parameters.get(name, {}))
            steps.append(Step(name, True, time.perf_counter() - started))
        except Exception as error:  # a failed lesson must not hide the others
            reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
            steps.append(Step(name, False, time.perf_counter() - started, reason[:160]))
    return steps


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
    return [(path.name, path.stat().st_size) for path in sorted(models_dir.glob("*")) if path.is_file()]


def format_summary(steps: list[Step], sizes: list[tuple[str, int]]) -> str:
    """The summary table printed at the end of `make course`."""
    width = max(len(step.name) for step in steps)
    lines = ["", "Course summary", "=" * 14, ""]
    for step in steps:
        status = "ok" if step.ok else "FAILED"
        lines.append(f"{step.name:<{width}}  {status:<6}  {step.seconds:7.1f} s  {step.detail}".rstrip())
    if sizes:
        lines += ["", "Models"]
        name_width = max(len(name) for name, _ in sizes)
        lines += [f"  {name:<{name_width}}  {size / 1024:9.1f} KiB" for name, size in sizes]
    failed = [step.name for step in steps if not step.ok]
    lines += ["", f"{len(steps) - len(failed)}/{len(steps)} steps ok" + (f"; failed: {', '.join(failed)}" if failed else "")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=COURSE_OUT, help=f"output folder (default {COURSE_OUT})")
    parser.add_argument("--full", action="store_true", help="train last week's model in full (about 3 minutes)")
    args = parser.parse_args(argv)
    try:
        steps = run_lessons(args.out, short=not args.full)
        steps.append(predict_through_emulator(args.out / "run"))
        print(format_summary(steps, model_sizes(args.out / "run" / "models")))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug in the runner itself: say so plainly
        traceback.print_exc()
        return 2
    return 0 if all(step.ok for step in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
