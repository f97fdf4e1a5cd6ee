"""AWS Lambda's published on-demand prices, and what a workload costs at them.

One table for the whole course (lessons 06 and 08 use it). The figures are the
US East (N. Virginia) prices of https://aws.amazon.com/lambda/pricing/ for the
first duration tier, which covers any course-sized workload (the first 6
billion GB-seconds a month on x86_64, the first 7.5 billion on arm64):

- duration: $0.0000166667 per GB-second on x86_64, $0.0000133334 on arm64;
- requests: $0.20 per million, on both.

AWS's own worked examples on that page round the x86_64 figure to $0.00001667.
Other regions cost the same or more. The monthly free tier (one million
requests and 400,000 GB-seconds) is left out: an estimate should hold for a
busy month too. Since August 2025 every cold start's INIT phase is billed as
duration; container-image functions were already billed for it before, so a
cold start costs its `Init Duration` on top of the per-request figure.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_SOURCE = "https://aws.amazon.com/lambda/pricing/"
PRICES_REGION = "us-east-1"
PRICES_CHECKED = "2026-11-22"  # the date these figures were last compared with the page

MB_PER_GB = 1024  # Lambda bills memory in GB of 1024 MB (its pricing examples divide by 1024)
MIN_MEMORY_MB = 128
MAX_MEMORY_MB = 10_240


@dataclass(frozen=True)
class LambdaPrices:
    """On-demand prices of one Lambda architecture, in US dollars."""

    per_gb_second: float
    per_million_requests: float


LAMBDA_PRICES = {
    "x86_64": LambdaPrices(per_gb_second=0.0000166667, per_million_requests=0.20),
    "arm64": LambdaPrices(per_gb_second=0.0000133334, per_million_requests=0.20),
}


@dataclass(frozen=True)
class CostEstimate:
    """What `requests` invocations cost, each billed `billed_ms` at `memory_mb`."""

    requests: int
    billed_ms: float
    memory_mb: int
    architecture: str
    duration_usd: float
    requests_usd: float

    @property
    def gb_seconds(self) -> float:
        """Compute used by all the requests, in GB-seconds (the unit Lambda bills)."""
        return self.requests * self.billed_ms / 1000 * self.memory_mb / MB_PER_GB

    @property
    def total_usd(self) -> float:
        """Duration plus request charges."""
        return self.duration_usd + self.requests_usd

    def lines(self) -> str:
        """The estimate as a few aligned lines, ready to print."""
        return "\n".join(
            [
                f"{self.requests:,} requests x {self.billed_ms:g} ms billed x {self.memory_mb} MB "
                f"({self.architecture}, {PRICES_REGION} prices of {PRICES_CHECKED})",
                f"  compute   {self.gb_seconds:>14,.1f} GB-s  ${self.duration_usd:>9.2f}",
                f"  requests  {self.requests:>14,}       ${self.requests_usd:>9.2f}",
                f"  total     {'':>14}       ${self.total_usd:>9.2f}",
            ]
        )


def cost_of(
    requests: int, billed_ms: float, memory_mb: int, architecture: str = "x86_64"
) -> CostEstimate:
    """Estimate what `requests` invocations cost at Lambda's on-demand prices.

    `billed_ms` is the billed duration of one request (the `Billed Duration`
    of a REPORT line), `memory_mb` the function's configured memory.
    """
    if architecture not in LAMBDA_PRICES:
        known = ", ".join(LAMBDA_PRICES)
        raise ValueError(f"unknown architecture {architecture!r}; choose one of {known}")
    if not MIN_MEMORY_MB <= memory_mb <= MAX_MEMORY_MB:
        raise ValueError(
            f"memory_mb must be between {MIN_MEMORY_MB} and {MAX_MEMORY_MB}, not {memory_mb}"
        )
    if requests < 0 or billed_ms < 0:
        raise ValueError("requests and billed_ms cannot be negative")
    prices = LAMBDA_PRICES[architecture]
    gb_seconds = requests * billed_ms / 1000 * memory_mb / MB_PER_GB
    return CostEstimate(
        requests=requests,
        billed_ms=billed_ms,
        memory_mb=memory_mb,
        architecture=architecture,
        duration_usd=gb_seconds * prices.per_gb_second,
        requests_usd=requests / 1_000_000 * prices.per_million_requests,
    )
