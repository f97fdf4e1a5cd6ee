"""Lambda's price table and the cost arithmetic (lessons 06 and 08)."""

import pytest

from serverless_dl.aws.pricing import LAMBDA_PRICES, cost_of


def test_aws_worked_example_without_the_free_tier():
    """AWS's pricing page: 512 MB, 3 million requests of 1 s each, in US East."""
    estimate = cost_of(3_000_000, 1000, 512)
    assert estimate.gb_seconds == pytest.approx(1_500_000)
    assert estimate.duration_usd == pytest.approx(1_500_000 * 0.0000166667)
    assert estimate.requests_usd == pytest.approx(0.60)
    # AWS's example takes 400,000 free GB-s off and rounds the price to $0.00001667: $18.34.
    assert (estimate.gb_seconds - 400_000) * 0.00001667 == pytest.approx(18.34, abs=0.005)


def test_arm_is_cheaper_per_gb_second_and_requests_cost_the_same():
    x86, arm = cost_of(10**6, 20, 1024), cost_of(10**6, 20, 1024, "arm64")
    assert arm.duration_usd < x86.duration_usd and arm.requests_usd == x86.requests_usd
    assert set(LAMBDA_PRICES) == {"x86_64", "arm64"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [((1, 10, 64), "between 128 and 10240"), ((1, 10, 1024, "sparc"), "unknown architecture"),
     ((-1, 10, 1024), "cannot be negative")],
)  # fmt: skip
def test_bad_inputs_are_one_line_errors(arguments, message):
    with pytest.raises(ValueError, match=message) as error:
        cost_of(*arguments)
    assert "\n" not in str(error.value)


def test_the_printed_estimate_names_its_prices():
    text = cost_of(1_000_000, 19, 1024).lines()
    assert "us-east-1" in text and "1,000,000 requests" in text and "$" in text
