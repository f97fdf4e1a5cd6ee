"""The benchmark (`make bench`): its quick mode runs end to end and writes well-formed results.

Only the form is checked: the JSON document, the markdown table and the PNG
plots. Speed and memory are what the benchmark reports, never what a test
asserts (STYLE.md). The quick run builds every runtime's bundle the first
time (about three minutes on a fresh machine, TensorFlow's 1.4 GB included);
later runs reuse them from build/bench/.
"""

import copy
import json
import math
import re
import subprocess
import sys

import pytest
from PIL import Image

from serverless_dl.aws.pricing import cost_of
from serverless_dl.base.paths import ROOT
from serverless_dl.bench.__main__ import main
from serverless_dl.bench.measure import handler_durations, warm_events
from serverless_dl.bench.plan import (
    BYTECODE_RUNTIMES,
    MODELS,
    RUNTIMES,
    VARIANTS,
    configurations,
)
from serverless_dl.bench.report import (
    PLOTS,
    RESULTS_JSON,
    RESULTS_MARKDOWN,
    check_document,
    cost_per_million,
    lambda_duration_ms,
    markdown,
    render_report,
    targets,
)
from serverless_dl.bench.report import main as report_main

COMMITTED_RESULTS = ROOT / "benchmarks"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """`python -m serverless_dl.bench --quick` into a temporary folder: (folder, stdout)."""
    out = tmp_path_factory.mktemp("bench")
    run = subprocess.run(
        [sys.executable, "-m", "serverless_dl.bench", "--quick", "--out", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return out, run.stdout


def table_rows(markdown: str, header_start: str) -> list[list[str]]:
    """The cells of the markdown table whose header starts with `header_start`."""
    lines = markdown.splitlines()
    start = next(number for number, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def assert_png(path):
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path.name
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) >= 200, (path.name, image.size)


@pytest.mark.slow
def test_quick_mode_writes_a_well_formed_document(quick_run):
    out, _ = quick_run
    document = json.loads((out / RESULTS_JSON).read_text())
    assert check_document(document) == []
    assert document["mode"] == "quick"
    measured = {(row["runtime"], row["model"], row["variant"]): row
                for row in document["configurations"]}  # fmt: skip
    quick = configurations(quick=True)
    assert set(measured) == {(c.runtime, c.model, c.variant) for c in quick}
    assert {runtime for runtime, _, _ in measured} == set(RUNTIMES) - set(BYTECODE_RUNTIMES)
    for row in measured.values():
        assert row["error"] is None, row
        assert row["errors"] == 0 and row["inconsistent_answers"] == 0, row
        assert row["agreement_images"] == document["settings"]["warm"]
        assert row["zipped_bytes"] is None  # quick mode does not compress
    assert [target["name"] for target in document["targets"]] == [
        "cold start", "zip size", "handler overhead", "dynamic range"
    ]


@pytest.mark.slow
def test_quick_mode_prints_and_writes_the_markdown_table(quick_run):
    out, printed = quick_run
    markdown = (out / RESULTS_MARKDOWN).read_text()
    assert markdown.strip() in printed  # `make bench` prints the table it writes
    results = table_rows(markdown, "| Runtime |")
    assert len(results) == 2 + len(configurations(quick=True))  # header, separator, rows
    assert all(len(row) == len(results[0]) for row in results)
    assert set(results[1]) == {"---"}
    ratios = table_rows(markdown, "| Comparison |")
    assert len(ratios) == 2 + 4 and all(len(row) == 2 for row in ratios)


@pytest.mark.slow
def test_quick_mode_draws_the_plots_as_png(quick_run):
    out, _ = quick_run
    for name in PLOTS:
        assert_png(out / name)


@pytest.mark.slow
def test_tensorflow_free_bundles_hold_no_tensorflow(quick_run):
    bundles = sorted((ROOT / "build" / "bench" / "bundles").glob("*/packages"))
    free = [folder for folder in bundles if not folder.parent.name.startswith("tensorflow-")]
    assert len(free) >= 3
    for folder in free:
        assert not (folder / "tensorflow").exists(), folder
        assert not list(folder.glob("tensorflow*.dist-info")), folder


def test_the_committed_results_are_a_well_formed_full_run():
    document = json.loads((COMMITTED_RESULTS / RESULTS_JSON).read_text())
    assert check_document(document) == []
    assert document["mode"] == "full"
    assert len(document["configurations"]) == len(configurations(quick=False))
    assert document["settings"]["repeats"] >= 3 and document["settings"]["warm"] >= 200
    assert (COMMITTED_RESULTS / RESULTS_MARKDOWN).read_text().startswith("# Benchmark (full")
    for name in PLOTS:
        assert_png(COMMITTED_RESULTS / name)


# Words of a verdict: the report explains measured ratios, it does not grade them.
VERDICT = re.compile(r"\b(target|verdict|not met|met)\b", re.IGNORECASE)


def test_the_committed_report_is_drawn_from_the_committed_results():
    document = json.loads((COMMITTED_RESULTS / RESULTS_JSON).read_text())
    committed = (COMMITTED_RESULTS / RESULTS_MARKDOWN).read_text()
    assert committed == markdown(document), (
        "benchmarks/results.md differs from its rendering: run "
        "`python -m serverless_dl.bench.report benchmarks`"
    )
    assert not VERDICT.search(committed), VERDICT.search(committed)


def test_the_report_is_drawn_again_without_measuring(tmp_path, capsys):
    document = json.loads((COMMITTED_RESULTS / RESULTS_JSON).read_text())
    document["configurations"] = document["configurations"][:3]
    document["targets"] = targets(document)  # TensorFlow's figures only: the rest unmeasured
    (tmp_path / RESULTS_JSON).write_text(json.dumps(document))
    assert report_main([str(tmp_path)]) == 0
    written = (tmp_path / RESULTS_MARKDOWN).read_text()
    assert written == markdown(document) and "wrote" in capsys.readouterr().out
    assert len(table_rows(written, "| Comparison |")) == 2 + len(document["targets"])
    assert not VERDICT.search(written), VERDICT.search(written)
    assert render_report(tmp_path) == [tmp_path / RESULTS_MARKDOWN]  # no plots unless asked


def test_the_report_command_refuses_a_folder_without_results(tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        report_main([str(tmp_path)])
    error = capsys.readouterr().err
    assert stopped.value.code == 1
    assert "no results.json" in error and len(error.strip().splitlines()) == 1


def test_the_full_plan_covers_every_runtime_model_and_variant():
    full = configurations(quick=False)
    assert {c.model for c in full} == set(MODELS)
    assert {c.runtime for c in full} == set(RUNTIMES)
    keras = [c for c in full if c.runtime == "keras"]
    assert {c.variant for c in keras} == {"f32"}  # a Keras model has no quantized twin
    engines = [c for c in full if c.runtime not in ("keras", *BYTECODE_RUNTIMES)]
    engine_count = len(RUNTIMES) - 1 - len(BYTECODE_RUNTIMES)
    assert len(engines) == len(MODELS) * engine_count * len(VARIANTS)
    extra = [c.key for c in full if c.runtime in BYTECODE_RUNTIMES]
    assert extra == [f"{name}/clothing/f32" for name in BYTECODE_RUNTIMES]
    assert len(full) == len(set(full))


def test_repeats_continue_through_the_test_set(monkeypatch):
    monkeypatch.setattr("serverless_dl.bench.measure.image_event", lambda path: {"image": path})
    images = [f"image-{number}" for number in range(500)]
    covered = set()
    for repeat in range(3):
        events = warm_events(images, repeat, 200)
        assert len(events) == 200
        assert all(event == {"image": images[index]} for index, event in events)
        covered |= {index for index, _ in events}
    assert covered == set(range(500))


def test_handler_durations_come_from_the_handlers_log_lines():
    log = "\n".join([
        "START RequestId: 1",
        '{"request_id": "1", "outcome": "ok", "duration_ms": 4.5}',
        "REPORT RequestId: 1\tDuration: 9.1 ms",
        '{"request_id": "2", "outcome": "ok", "duration_ms": 3.25}',
        "something else with duration_ms in it",
    ])  # fmt: skip
    assert handler_durations(log) == [4.5, 3.25]


@pytest.mark.parametrize(("memory_mb", "factor"), [(512, 1769 / 512), (1769, 1.0), (2048, 1.0)])
def test_lambda_durations_scale_with_the_cpu_share(memory_mb, factor):
    assert math.isclose(lambda_duration_ms(10.0, memory_mb), 10.0 * factor)


def test_cost_per_million_bills_whole_milliseconds_at_lambda_prices():
    assert cost_per_million(4.2, 2048) == cost_of(1_000_000, 5, 2048).total_usd
    # 4.2 ms on a full core take 14.5 ms with the 29 % of a vCPU that 512 MB get: 15 ms billed.
    assert cost_per_million(4.2, 512) == cost_of(1_000_000, 15, 512).total_usd


def minimal_document(tf_cold_ms=8000.0, classic_cold_ms=400.0, int8_agreement=1.0):
    """A full-mode document with just the rows the targets read."""

    def row(runtime, variant, cold_ms, installed, zipped, agreement=1.0):
        figure = {"median": cold_ms, "min": cold_ms, "max": cold_ms, "runs": [cold_ms]}
        latency = {"median": 5.0, "min": 5.0, "max": 5.0, "runs": [5.0]}
        return {
            "runtime": runtime, "model": "clothing", "variant": variant, "error": None,
            "cold_start_ms": figure, "init_ms": copy.deepcopy(figure), "peak_rss_mib": latency,
            "warm_ms": {"p50": latency, "p95": latency},
            "function_ms": {"p50": latency, "p95": latency}, "handler_ms": {"p50": latency},
            "bare_ms": {"p50": 4.0, "p95": 4.5, "steps": {}}, "warm_invocations": 600,
            "installed_bytes": installed, "zipped_bytes": zipped,
            "agreement": agreement, "agreement_images": 500,
        }  # fmt: skip

    return {
        "schema": 1, "mode": "full", "started_utc": "2026-11-22T00:00:00+00:00", "seconds": 1,
        "machine": {}, "settings": {"repeats": 3, "warm": 200},
        "bundles": {}, "models": {"clothing": {"files": {"tflite": {"f32": 1200, "int8": 300}}}},
        "configurations": [
            row("keras", "f32", tf_cold_ms, 1500 * 2**20, 360 * 2**20),
            row("tflite-runtime", "f32", classic_cold_ms, 85 * 2**20, 27 * 2**20),
            row("tflite-runtime", "int8", classic_cold_ms, 85 * 2**20, 27 * 2**20,
                int8_agreement),
        ],
        "targets": [],
    }  # fmt: skip


def test_targets_are_met_or_not_by_their_thresholds():
    verdicts = {target["name"]: target["met"] for target in targets(minimal_document())}
    assert verdicts == {"cold start": True, "zip size": False, "handler overhead": True,
                        "dynamic range": True}  # fmt: skip
    slow_tf = targets(minimal_document(tf_cold_ms=4000.0, int8_agreement=0.98))
    assert {t["name"]: t["met"] for t in slow_tf}["cold start"] is False
    assert {t["name"]: t["met"] for t in slow_tf}["dynamic range"] is False
    assert {t["name"]: t["ratio"] for t in slow_tf}["cold start"] == 10.0


def test_an_unmeasured_target_has_no_verdict():
    document = minimal_document()
    document["configurations"] = document["configurations"][1:]  # no TensorFlow row
    verdicts = {target["name"]: target["met"] for target in targets(document)}
    assert verdicts["cold start"] is None and verdicts["zip size"] is None


def test_a_malformed_document_is_reported():
    document = minimal_document()
    document["targets"] = targets(document)
    assert check_document(document) == []
    broken = copy.deepcopy(document)
    broken["configurations"][0]["cold_start_ms"]["min"] = 10**9
    del broken["machine"]
    assert check_document(broken) == ["missing 'machine'"]
    broken["machine"] = {}
    assert check_document(broken) == ["keras/clothing/f32: cold_start_ms is not ordered "
                                      "min <= median <= max"]  # fmt: skip


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [(["--fast"], "unrecognized arguments: --fast"), (["--out", "README.md"], "is a file")],
)
def test_bad_arguments_get_a_one_line_error(arguments, complaint, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(arguments)
    error = capsys.readouterr().err
    assert stopped.value.code == 2
    assert complaint in error and len(error.strip().splitlines()) == 1
