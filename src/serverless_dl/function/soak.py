"""Soak test: many invocations in a row under the RIE, watching errors and memory.

A function that leaks a little per request looks fine in a quick test and runs
out of memory after a day of traffic, because Lambda reuses the execution
environment. So this serves the sample images on 127.0.0.1, starts the
exported handler under the Runtime Interface Emulator in one Lambda
environment, warms it up, and then sends invocations one after the other: the
sample images in turn, alternately as direct `{"url": ...}` events and as API
Gateway (HTTP API) events with the image as a base64 body.

It reports the errors (any answer that is not a prediction, warm-up included), the resident
memory (RSS) of the runtime process (the Python child of the emulator, where
the handler and the model live) after the warm-up and at the end, the growth
in percent, and the throughput. The figures are printed and written as JSON.

Command line::

    python -m serverless_dl.function.soak [--invocations N] [--flavour classic|modern]
                                 [--model PATH] [--output FILE] [--max-growth PERCENT]

The exit status is 1 when there was an error or memory grew by more than
`--max-growth` percent.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from serverless_dl.base.cli import OneLineErrorParser, percentage, positive_whole_number
from serverless_dl.base.paths import BUILD, DOCKER, IMAGES, MODELS
from serverless_dl.function.client import answer_of, image_event
from serverless_dl.function.envs import LAMBDA_FLAVOURS, EnvironmentMissing
from serverless_dl.function.imageserver import serve_directory
from serverless_dl.function.lambda_local import local_function
from serverless_dl.function.rie import EmulatorError, LambdaEmulator

DEFAULT_INVOCATIONS = 1000
WARMUP_INVOCATIONS = 50
DEFAULT_MAX_GROWTH_PERCENT = 10.0
DEFAULT_OUTPUT = BUILD / "soak" / "soak.json"
DEFAULT_MODEL = MODELS / "clothing-model.tflite"
RUNTIME_MODULE = "awslambdaric"
KEPT_ERROR_SAMPLES = 5


@dataclass
class SoakResult:
    """What a soak run measured. Memory is in MiB, time in seconds."""

    flavour: str
    invocations: int
    warmup_invocations: int
    errors: int
    rss_start_mib: float
    rss_end_mib: float
    seconds: float
    runtime_restarts: int = 0
    error_samples: list[str] = field(default_factory=list)

    @property
    def growth_percent(self) -> float:
        """How much the resident memory grew after the warm-up, in percent of where it began."""
        return 100 * (self.rss_end_mib - self.rss_start_mib) / self.rss_start_mib

    @property
    def invocations_per_second(self) -> float:
        """Measured invocations per second of wall time."""
        return self.invocations / self.seconds

    def as_dict(self) -> dict:
        """All figures, the derived ones included, ready for JSON."""
        return {
            **asdict(self),
            "growth_percent": round(self.growth_percent, 2),
            "invocations_per_second": round(self.invocations_per_second, 1),
        }

    def summary(self) -> str:
        """The figures as a few readable lines."""
        return "\n".join([
            f"soak ({self.flavour}): {self.invocations} invocations in {self.seconds:.1f} s "
            f"({self.invocations_per_second:.1f}/s) after {self.warmup_invocations} to warm up",
            f"errors: {self.errors}"
            + (f"  e.g. {self.error_samples[0]}" if self.error_samples else ""),
            f"runtime RSS: {self.rss_start_mib:.1f} MiB after warm-up -> "
            f"{self.rss_end_mib:.1f} MiB at the end ({self.growth_percent:+.1f} %)",
        ])


def child_pids(pid: int) -> list[int]:
    """The ids of the processes whose parent is `pid`, read from /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended while we looked
            continue
        # The command name (field 2) may contain spaces; the fields after it do not.
        parent = int(text.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            children.append(int(stat.parent.name))
    return children


def runtime_pid(emulator: LambdaEmulator) -> int:
    """The id of the runtime process: the emulator's child running awslambdaric."""
    for pid in child_pids(emulator.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if RUNTIME_MODULE.encode() in command:
            return pid
    raise EmulatorError(f"no {RUNTIME_MODULE} process under the emulator (pid {emulator.pid})")


def resident_mib(pid: int) -> float:
    """The resident set size (RSS) of process `pid`, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise EmulatorError(f"process {pid} reports no resident memory")


def soak_events(images_url: str) -> list[tuple[str, dict]]:
    """The events sent in turn: every sample image as a URL event and as an image body."""
    events = []
    for image in sorted(IMAGES.glob("*.jpg")):
        events.append(("direct", {"url": f"{images_url}/{image.name}"}))
        events.append(("proxy", image_event(image)))
    return events


def problem_with(emulator: LambdaEmulator, kind: str, event: dict) -> str | None:
    """Invoke once; return a one-line description of what went wrong, or None if all is well."""
    try:
        reply = emulator.invoke(event, timeout=60)
        answer = reply.json()
        if kind == "proxy":
            if answer.get("statusCode") != 200:
                return f"proxy answer {str(answer)[:200]}"
            answer = answer_of(reply)
    except Exception as error:  # an invocation that fails in any way is what we count
        return f"{type(error).__name__}: {error}"[:200]
    if reply.status != 200 or not isinstance(answer, dict) or "prediction" not in answer:
        return f"HTTP {reply.status}: {reply.text[:200]}"
    return None


def run_soak(
    invocations: int = DEFAULT_INVOCATIONS,
    flavour: str = "classic",
    model: Path = DEFAULT_MODEL,
    handler_script: Path = DOCKER / "lambda_function.py",
    warmup: int = WARMUP_INVOCATIONS,
    image_source: Path | None = None,
) -> SoakResult:
    """Warm the function up, then invoke it `invocations` times in a row and measure.

    `image_source` defaults to the `image_source.py` next to `handler_script`.
    """
    function = local_function(
        flavour, handler_script=handler_script, model=model, image_source=image_source
    )
    with serve_directory(IMAGES) as images_url, function as emulator:
        events = soak_events(images_url)
        warmup_problems = [problem_with(emulator, *events[i % len(events)]) for i in range(warmup)]
        pid = runtime_pid(emulator)
        rss_start = resident_mib(pid)
        problems = [problem for problem in warmup_problems if problem]
        started = time.perf_counter()
        for number in range(invocations):
            problem = problem_with(emulator, *events[number % len(events)])
            if problem:
                problems.append(problem)
        seconds = time.perf_counter() - started
        final_pid = runtime_pid(emulator)
        rss_end = resident_mib(final_pid)
    return SoakResult(
        flavour=flavour,
        invocations=invocations,
        warmup_invocations=warmup,
        errors=len(problems),
        rss_start_mib=round(rss_start, 1),
        rss_end_mib=round(rss_end, 1),
        seconds=round(seconds, 2),
        runtime_restarts=int(final_pid != pid),
        error_samples=problems[:KEPT_ERROR_SAMPLES],
    )


def write_result(result: SoakResult, output: Path = DEFAULT_OUTPUT) -> Path:
    """Write the figures as JSON to `output` and return its path."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    return output


def main(argv: list[str] | None = None) -> int:
    """Soak the handler under the emulator, write the figures, and exit 1 if it degraded.

    Errors, a restarted runtime or memory growth beyond `--max-growth` fail the run.
    """
    parser = OneLineErrorParser(
        prog="python -m serverless_dl.function.soak", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--invocations", type=positive_whole_number, default=DEFAULT_INVOCATIONS,
                        help=f"how many invocations to measure (default {DEFAULT_INVOCATIONS})")
    parser.add_argument("--flavour", choices=LAMBDA_FLAVOURS, default="classic",
                        help="the Lambda environment (default classic)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="the TFLite model (default models/clothing-model.tflite)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="where to write the figures as JSON (default build/soak/soak.json)")
    parser.add_argument("--max-growth", type=percentage, default=DEFAULT_MAX_GROWTH_PERCENT,
                        help="memory growth in percent that fails the run (default 10)")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        parser.error(f"the model {args.model} does not exist")
    try:
        result = run_soak(args.invocations, args.flavour, args.model)
    except (EnvironmentMissing, EmulatorError) as error:
        parser.exit(1, f"{parser.prog}: error: {str(error).splitlines()[0]}\n")
    print(result.summary())
    print(f"wrote {write_result(result, args.output)}")
    if result.errors or result.runtime_restarts or result.growth_percent > args.max_growth:
        print(f"FAILED: errors, a runtime restart, or memory growth over {args.max_growth} %",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
