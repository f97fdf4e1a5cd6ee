"""Measure one configuration: cold starts, warm latency, memory, agreement, the bare baseline.

Definitions (the lesson explains why each is measured so):

- **cold start**: from sending the first invocation to a freshly started
  emulator until its answer arrives. The emulator starts the runtime process
  only when that invocation comes in, so this is a new process (Python, the
  runtime interface client, the handler's imports, loading the model) plus
  the first inference. The emulator also reports the init phase alone
  (`INIT REPORT`), which is what Lambda's `Init Duration` shows.
- **warm latency**: the round trip of each later invocation as a client sees
  it, and the function's own `Duration` from its `REPORT` line (what Lambda
  bills), and the handler's own time from its log line.
- **peak memory**: the runtime process's peak resident set (`VmHWM` in
  `/proc`), found as `serverless_dl.function.soak` finds it; Lambda's `Max Memory Used`.
- **agreement**: the handler's top-1 class against Keras's on the same test images.
- **bare baseline**: decoding, preprocessing and the interpreter alone, in a
  loop in one process (`engine_adapter.py` run as a script).

Each invocation carries its test image as an API Gateway (HTTP API) body, so
no download is timed. The function runs pinned to one CPU core, as Lambda
gives a function one vCPU at 1,769 MB; the benchmark's own process keeps off
that core when the machine has another.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from serverless_dl.base.commands import run_command
from serverless_dl.base.paths import IMAGES
from serverless_dl.bench.bundles import ADAPTER, MODEL_NAMES, BuiltBundle
from serverless_dl.bench.plan import RUNTIMES, Configuration
from serverless_dl.data.clothing import CLASSES
from serverless_dl.function.client import answer_of, image_event
from serverless_dl.function.envs import clean_environment
from serverless_dl.function.rie import parse_init_durations, parse_reports
from serverless_dl.function.soak import runtime_pid
from serverless_dl.function.zip_bundle import (
    LAMBDA_PYTHON_SETTINGS,
    bundle_emulator,
    runtime_python,
)

COLD_EVENT_IMAGE = IMAGES / "pants.jpg"
ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "2"}  # TensorFlow's start-up chatter, not its speed
INVOKE_TIMEOUT_SECONDS = 120
BARE_TIMEOUT_SECONDS = 600


class MeasurementError(RuntimeError):
    """A configuration could not be measured; the message says why in one line."""


def cpu_plan() -> tuple[set[int], set[int]]:
    """(CPUs for the function, CPUs for the benchmark itself): one core for the function."""
    available = sorted(os.sched_getaffinity(0))
    function = {available[-1]}
    return function, set(available[:-1]) or function


@contextlib.contextmanager
def cpu_affinity(cpus: set[int]) -> Iterator[None]:
    """Run this process on `cpus` for a while; processes started meanwhile keep `cpus`."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def peak_resident_mib(pid: int) -> float:
    """The peak resident set size (`VmHWM`) of process `pid`, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise MeasurementError(f"process {pid} reports no peak memory")


def handler_durations(log: str) -> list[float]:
    """The `duration_ms` of every JSON record the handler printed, in order."""
    durations = []
    for line in log.splitlines():
        if line.startswith('{"request_id"'):
            with contextlib.suppress(ValueError, KeyError):
                durations.append(float(json.loads(line)["duration_ms"]))
    return durations


def percentile(values: Sequence[float], share: float) -> float:
    """The `share` (0-100) percentile of `values`, linearly interpolated."""
    return float(np.percentile(np.asarray(values, dtype=float), share))


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, minimum and maximum of repeated figures, rounded for reading."""
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
        "runs": [round(value, 2) for value in values],
    }


@dataclass
class RepeatFigures:
    """What one cold start and the warm invocations after it measured."""

    cold_start_ms: float
    init_ms: float
    peak_rss_mib: float
    warm_ms: list[float]
    function_ms: list[float]
    handler_ms: list[float]
    answers: dict[int, str] = field(default_factory=dict)  # test image index -> class
    errors: list[str] = field(default_factory=list)


def function_setup(configuration: Configuration, bundle: BuiltBundle, task_root: Path):
    """(handler setting, environment) for serving `configuration` from `task_root`."""
    runtime = RUNTIMES[configuration.runtime]
    environment = {**ENVIRONMENT, "MODEL_PATH": MODEL_NAMES[runtime.model_format]}
    if runtime.engine:
        environment["BENCH_ENGINE"] = runtime.engine
        return f"{ADAPTER.stem}.lambda_handler", environment
    return "lambda_function.lambda_handler", environment


def measure_repeat(
    configuration: Configuration,
    bundle: BuiltBundle,
    task_root: Path,
    events: Sequence[tuple[int, dict]],
    cpus: tuple[set[int], set[int]],
) -> RepeatFigures:
    """One cold start, then one warm invocation per event `(test image index, event)`."""
    handler, environment = function_setup(configuration, bundle, task_root)
    emulator = bundle_emulator(
        task_root, handler, environment, layers=[bundle.packages], timeout=INVOKE_TIMEOUT_SECONDS
    )
    function_cpus, _ = cpus
    with cpu_affinity(function_cpus):  # the emulator, and the runtime it starts, stay there
        emulator.start()
    try:
        first = emulator.invoke(image_event(COLD_EVENT_IMAGE), timeout=INVOKE_TIMEOUT_SECONDS)
        if first.status != 200 or "prediction" not in answer_of(first):
            log = emulator.logs()
            raise MeasurementError(f"the function did not answer: {first.text[:200]} {log[-300:]}")
        warm_ms, answers, errors = [], {}, []
        for index, event in events:
            reply = emulator.invoke(event, timeout=INVOKE_TIMEOUT_SECONDS)
            warm_ms.append(reply.seconds * 1000)
            answer = answer_of(reply)
            if reply.status == 200 and "prediction" in answer:
                answers[index] = answer["prediction"]
            else:
                errors.append(f"HTTP {reply.status}: {reply.text[:200]}")
        peak = peak_resident_mib(runtime_pid(emulator))
    finally:
        emulator.stop()
    log = emulator.logs()
    init = parse_init_durations(log)
    reports = parse_reports(log)
    if not init or len(reports) != len(events) + 1:
        raise MeasurementError(f"the emulator's log lacks reports: {log[-500:]}")
    return RepeatFigures(
        cold_start_ms=first.seconds * 1000,
        init_ms=init[0],
        peak_rss_mib=peak,
        warm_ms=warm_ms,
        function_ms=[float(report["Duration"]) for report in reports[1:]],
        handler_ms=handler_durations(log)[1:],
        answers=answers,
        errors=errors,
    )


def bare_baseline(
    configuration: Configuration,
    bundle: BuiltBundle,
    task_root: Path,
    images: Sequence[Path],
    repeat: int,
    function_cpus: set[int],
) -> dict:
    """Run `engine_adapter.py` as a script in the function's environment and core."""
    _, environment = function_setup(configuration, bundle, task_root)
    python, site = runtime_python()
    search_path = os.pathsep.join([str(bundle.packages), str(site)])
    run = run_command(
        [python, ADAPTER.name, environment["MODEL_PATH"], *images, "--repeat", repeat],
        error=MeasurementError, what="the bare baseline",
        cwd=task_root,
        env=clean_environment({**environment, **LAMBDA_PYTHON_SETTINGS, "PYTHONPATH": search_path}),
        timeout=BARE_TIMEOUT_SECONDS,
        preexec_fn=lambda: os.sched_setaffinity(0, function_cpus),
    )  # fmt: skip
    return json.loads(run.stdout.strip().splitlines()[-1])


def warm_events(
    images: Sequence[Path], repeat_number: int, count: int
) -> list[tuple[int, dict]]:
    """The warm events of repeat `repeat_number`: the next `count` test images, in a cycle.

    Successive repeats continue where the last one stopped, so three repeats of
    200 cover all 500 test images.
    """
    start = repeat_number * count
    indexes = [(start + offset) % len(images) for offset in range(count)]
    return [(index, image_event(images[index])) for index in indexes]


def summarise(
    repeats: Sequence[RepeatFigures], bare: dict, reference: dict
) -> dict:
    """The configuration's figures: medians and spread over the repeats, agreement with Keras."""
    keras_classes = [CLASSES[index] for index in reference["keras_top1"]]
    answered = {}
    inconsistent = 0
    for repeat in repeats:
        for index, answer in repeat.answers.items():
            inconsistent += index in answered and answered[index] != answer
            answered[index] = answer
    agreeing = sum(answer == keras_classes[index] for index, answer in answered.items())
    errors = [error for repeat in repeats for error in repeat.errors]

    def per_repeat(attribute: str, share: float) -> dict:
        return spread([percentile(getattr(repeat, attribute), share) for repeat in repeats])

    return {
        "cold_start_ms": spread([repeat.cold_start_ms for repeat in repeats]),
        "init_ms": spread([repeat.init_ms for repeat in repeats]),
        "warm_ms": {"p50": per_repeat("warm_ms", 50), "p95": per_repeat("warm_ms", 95)},
        "function_ms": {"p50": per_repeat("function_ms", 50),
                        "p95": per_repeat("function_ms", 95)},
        "handler_ms": {"p50": per_repeat("handler_ms", 50)},
        "bare_ms": {
            "p50": round(percentile(bare["inference_ms"], 50), 3),
            "p95": round(percentile(bare["inference_ms"], 95), 3),
            "steps": bare["steps_ms"],
        },
        "peak_rss_mib": spread([repeat.peak_rss_mib for repeat in repeats]),
        "warm_invocations": sum(len(repeat.warm_ms) for repeat in repeats),
        "agreement": round(agreeing / len(answered), 4) if answered else None,
        "agreement_images": len(answered),
        "inconsistent_answers": inconsistent,
        "errors": len(errors),
        "error_samples": errors[:3],
    }  # fmt: skip
