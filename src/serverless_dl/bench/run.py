"""One benchmark run: prepare models and bundles, measure every configuration, collect figures.

Repeats go round the configurations (every configuration's first cold start,
then every second one, ...), so a burst of load from another process on the
machine spreads over many configurations instead of spoiling one.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from serverless_dl.bench.bundles import build_bundle, function_sizes, make_task_root
from serverless_dl.bench.measure import (
    MeasurementError,
    bare_baseline,
    cpu_affinity,
    cpu_plan,
    measure_repeat,
    percentile,
    summarise,
    warm_events,
)
from serverless_dl.bench.models import BENCH_BUILD, model_files
from serverless_dl.bench.plan import BUNDLES, MODELS, RUNTIMES, Settings, configurations
from serverless_dl.bench.report import SCHEMA, targets
from serverless_dl.function.envs import EnvironmentMissing
from serverless_dl.function.rie import EmulatorError
from serverless_dl.function.zip_bundle import BundleError


def _cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _system() -> str:
    release = Path("/etc/os-release")
    if release.is_file():
        for line in release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.split('=', 1)[1].strip(chr(34))}, Linux {platform.release()}"
    return platform.platform()


def machine_facts() -> dict:
    """The machine the figures belong to (the load average tells whether others were busy)."""
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return {
        "cpu": _cpu_name(),
        "cpus": os.cpu_count(),
        "memory_gib": round(pages / 2**30, 1),
        "system": _system(),
        "python": platform.python_version(),
        "load_start": round(os.getloadavg()[0], 2),
    }


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip()] = version.strip()
    return pins


def run_benchmark(
    settings: Settings, build: Path = BENCH_BUILD, log: Callable[[str], None] = print
) -> dict:
    """Measure every configuration of `settings` and return the results document."""
    started, clock = datetime.now(UTC), time.perf_counter()
    machine = machine_facts()
    chosen = configurations(settings.quick)
    cpus = cpu_plan()
    with cpu_affinity(cpus[1]):
        models = {name: model_files(name, MODELS[name], build, log)
                  for name in dict.fromkeys(c.model for c in chosen)}  # fmt: skip
        bundle_names = dict.fromkeys(RUNTIMES[c.runtime].bundle.name for c in chosen)
        bundles = {name: build_bundle(BUNDLES[name], build, settings.zipped_sizes, log)
                   for name in bundle_names}  # fmt: skip
        rows, prepared, repeats = {}, {}, {}
        for configuration in chosen:
            runtime = RUNTIMES[configuration.runtime]
            model = models[configuration.model]
            model_path = model.path(runtime.model_format, configuration.variant)
            bundle = bundles[runtime.bundle.name]
            installed, zipped = function_sizes(configuration, model_path, bundle,
                                               settings.zipped_sizes)  # fmt: skip
            rows[configuration] = {
                "runtime": configuration.runtime, "runtime_title": runtime.title,
                "model": configuration.model, "variant": configuration.variant,
                "bundle": bundle.name, "lambda_runtime": runtime.bundle.lambda_runtime,
                "model_bytes": model_path.stat().st_size,
                "installed_bytes": installed, "zipped_bytes": zipped, "error": None,
            }  # fmt: skip
            task_root = make_task_root(configuration, model_path, build)
            images = [Path(path) for path in model.reference["images"]]
            try:
                log(f"bare baseline  {configuration.key}")
                bare = bare_baseline(configuration, bundle, task_root, images[: settings.bare],
                                     settings.bare, cpus[0])  # fmt: skip
            except MeasurementError as error:
                rows[configuration]["error"] = str(error).splitlines()[0]
                continue
            prepared[configuration] = (bundle, task_root, images, bare)
            repeats[configuration] = []
        for number in range(settings.repeats):
            for configuration, (bundle, task_root, images, _) in prepared.items():
                if rows[configuration]["error"]:
                    continue
                events = warm_events(images, number, settings.warm)
                try:
                    figures = measure_repeat(configuration, bundle, task_root, events, cpus)
                except (MeasurementError, EmulatorError) as error:
                    rows[configuration]["error"] = str(error).splitlines()[0]
                    continue
                repeats[configuration].append(figures)
                log(f"run {number + 1}/{settings.repeats}  {configuration.key:<36} cold "
                    f"{figures.cold_start_ms / 1000:6.2f} s  warm p50 "
                    f"{percentile(figures.warm_ms, 50):7.1f} ms  "
                    f"peak {figures.peak_rss_mib:5.0f} MB")
        for configuration, (_, _, _, bare) in prepared.items():
            if not rows[configuration]["error"]:
                reference = models[configuration.model].reference
                rows[configuration].update(summarise(repeats[configuration], bare, reference))
    machine["load_end"] = round(os.getloadavg()[0], 2)
    document = {
        "schema": SCHEMA,
        "mode": settings.mode,
        "started_utc": started.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - clock, 1),
        "machine": machine,
        "settings": {
            "repeats": settings.repeats, "warm": settings.warm, "bare": settings.bare,
            "function_cpus": sorted(cpus[0]),
            "event": "API Gateway HTTP API event with the JPEG as its base64 body",
        },  # fmt: skip
        "bundles": {
            name: {
                "requirements": BUNDLES[name].requirements,
                "lambda_runtime": BUNDLES[name].lambda_runtime,
                "packages": _pins(BUNDLES[name].requirement_file),
                "installed_bytes": bundle.installed_bytes,
                "zipped_bytes": bundle.zipped_bytes if settings.zipped_sizes else None,
                "stripped_bytes": bundle.stripped_bytes,
            }
            for name, bundle in bundles.items()
        },
        "models": {
            name: {
                "input_size": model.input_size,
                "parameters": model.parameters,
                "keras_accuracy": model.reference["keras_accuracy"],
                "keras_distinct_answers": model.reference["keras_distinct_answers"],
                "test_images": len(model.reference["images"]),
                "files": {fmt: {variant: path.stat().st_size for variant, path in paths.items()}
                          for fmt, paths in model.files.items()},  # fmt: skip
            }
            for name, model in models.items()
        },
        "configurations": list(rows.values()),
    }
    document["targets"] = targets(document)
    return document


FAILURES = (BundleError, EnvironmentMissing, EmulatorError)
