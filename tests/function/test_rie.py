"""The Runtime Interface Emulator harness, on a tiny handler."""

import textwrap

import pytest

from serverless_dl.function.envs import lambda_python
from serverless_dl.function.rie import LambdaEmulator, parse_init_durations, parse_reports

HANDLER = textwrap.dedent('''
    import time

    def handler(event, context):
        time.sleep(event.get("sleep", 0))
        return {"echo": event, "function": context.function_name}
''')


@pytest.fixture
def task_root(tmp_path):
    (tmp_path / "echo.py").write_text(HANDLER)
    return tmp_path


def test_an_invocation_returns_the_handlers_json(task_root):
    with LambdaEmulator("echo.handler", task_root, lambda_python("classic")) as function:
        reply = function.invoke({"hello": "world"})
        assert reply.status == 200
        assert reply.json()["echo"] == {"hello": "world"}
        assert function.url.endswith("/2015-03-31/functions/function/invocations")
    reports = function.reports()
    assert len(reports) == 1 and reports[0]["Duration"] > 0
    assert len(parse_init_durations(function.logs())) == 1


def test_the_timeout_setting_is_enforced(task_root):
    with LambdaEmulator("echo.handler", task_root, lambda_python("classic"), timeout=1) as function:
        reply = function.invoke({"sleep": 2})
        assert "Task timed out after 1.00 seconds" in reply.text
        # The environment is reset after a timeout; the next request works again.
        assert function.invoke({"sleep": 0}).json()["echo"] == {"sleep": 0}


def test_two_emulators_run_side_by_side(task_root):
    python = lambda_python("modern")
    with LambdaEmulator("echo.handler", task_root, python) as first, \
            LambdaEmulator("echo.handler", task_root, python) as second:
        assert first.invoke({"n": 1}).json()["echo"] == {"n": 1}
        assert second.invoke({"n": 2}).json()["echo"] == {"n": 2}


def test_a_broken_handler_is_reported_not_hung(task_root):
    (task_root / "broken.py").write_text("raise ImportError('no such thing')\n")
    with LambdaEmulator("broken.handler", task_root, lambda_python("classic")) as function:
        reply = function.invoke({})
        assert "ImportError" in reply.text or "Runtime" in reply.text


def test_report_lines_are_parsed():
    log = (
        "REPORT RequestId: abc\tInit Duration: 80.50 ms\tDuration: 12.25 ms\t"
        "Billed Duration: 13 ms\tMemory Size: 1024 MB\tMax Memory Used: 64 MB\t\n"
        "22 Nov 2026 [INFO] (rapid) INIT REPORT(durationMs: 80.500000)\n"
    )
    [report] = parse_reports(log)
    assert report == {
        "request_id": "abc", "Init Duration": 80.5, "Duration": 12.25,
        "Billed Duration": 13.0, "Memory Size": 1024.0, "Max Memory Used": 64.0,
    }
    assert parse_init_durations(log) == [80.5]
