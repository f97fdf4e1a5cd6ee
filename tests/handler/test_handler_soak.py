"""Soak: 1,000 invocations in a row under the RIE, without errors or memory growth.

Run with `pytest -s` to see the figures; they are also written to
`build/soak/soak.json`.
"""

import json

import pytest
from handler_harness import HANDLER_SCRIPT, MODEL

from serverless_dl.function.handler_modules import IMAGE_SOURCE
from serverless_dl.function.soak import DEFAULT_OUTPUT, main, run_soak, write_result

INVOCATIONS = 1000
MAX_GROWTH_PERCENT = 10
# Appended to the handler: every request keeps 1 MiB that is written to, so it is resident.
LEAK = """

_kept_for_ever = []
_lambda_handler = lambda_handler


def lambda_handler(event, context):
    _kept_for_ever.append(b"x" * (1 << 20))
    return _lambda_handler(event, context)
"""


def test_a_thousand_invocations_without_errors_or_memory_growth():
    result = run_soak(invocations=INVOCATIONS, flavour="classic", model=MODEL)
    print(f"\n{result.summary()}")
    print(f"wrote {write_result(result, DEFAULT_OUTPUT)}")
    assert json.loads(DEFAULT_OUTPUT.read_text())["invocations"] == INVOCATIONS
    assert result.errors == 0, result.error_samples
    assert result.runtime_restarts == 0
    assert result.growth_percent <= MAX_GROWTH_PERCENT, result.summary()


def test_a_leak_shows_as_memory_growth(tmp_path):
    leaky_script = tmp_path / "lambda_function.py"
    leaky_script.write_text(HANDLER_SCRIPT.read_text() + LEAK)
    result = run_soak(invocations=100, flavour="classic", model=MODEL,
                      handler_script=leaky_script, image_source=IMAGE_SOURCE, warmup=5)
    assert result.errors == 0, result.error_samples
    # 100 MiB kept on top of a runtime of some 50 MiB.
    assert result.growth_percent > 100, result.summary()


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["--invocations", "0"], "'0' is not a positive whole number"),
        (["--invocations", "many"], "'many' is not a positive whole number"),
        (["--flavour", "vintage"], "invalid choice: 'vintage'"),
        (["--max-growth", "-5"], "'-5' is not a percentage"),
        (["--model", "no/such/model.tflite"], "the model no/such/model.tflite does not exist"),
        (["--fast"], "unrecognized arguments: --fast"),
    ],
)
def test_bad_arguments_get_a_one_line_error(arguments, complaint, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    assert exit_info.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("python -m serverless_dl.function.soak: error: ") and complaint in line
