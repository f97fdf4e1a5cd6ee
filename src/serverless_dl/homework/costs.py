"""The cost questions: a REPORT line's bill (q8), memory against CPU (q10), a composed model (q11).

Each learner gets their own figures, drawn from the learner id like every
other personal choice of the homework (`draw`), and every answer comes from
the course's own cost code: `serverless_dl.aws.pricing.cost_of` for a REPORT line
(lesson 07), `serverless_dl.bench.report.cost_per_million` for a duration
measured on a full core and run at some memory size (lesson 13).

A draw is taken only if the usual mistakes land at least `MISTAKE_MARGIN`
option steps away from the right answer, so they pick a wrong option:
forgetting the request charge, billing the memory used instead of the memory
configured, using the other architecture's price, and, for q10, not scaling
the duration below a full vCPU's memory or scaling it down above, and, for q11, counting
one request per composed prediction or billing the head at the backbone's memory.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from serverless_dl.aws.pricing import LAMBDA_PRICES, cost_of
from serverless_dl.bench.report import ONE_VCPU_MB, cost_per_million, lambda_duration_ms
from serverless_dl.homework.options import nice_step

MISTAKE_MARGIN = 0.75  # a mistake must land at least this many option steps from the answer
ATTEMPTS = 2000
STEP_SHARE = 0.12  # options are about 12% of the answer apart (a 1-2-5 step at most that)
REPORT_MEMORY_MB = (128, 256, 512, 1024, 1536, 2048, 3008)
REPORT_REQUESTS = (1_000_000, 2_000_000, 3_000_000, 5_000_000, 10_000_000, 20_000_000)
SIZING_MEMORY_MB = (256, 512, 768, 1024, 1536, 2048, 3008, 4096)
HEAD_MEMORY_MB = (128, 256, 512)
ARCHITECTURES = tuple(LAMBDA_PRICES)

Draw = Callable[[str, int], int]  # (purpose, attempt) -> a large integer from the learner id


@dataclass(frozen=True)
class ReportBill:
    """q8: a warm request's REPORT line, how many such requests, and on which architecture."""

    request_id: str
    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_used_mb: int
    requests: int
    architecture: str

    @property
    def line(self) -> str:
        """The REPORT line as Lambda logs it."""
        return (
            f"REPORT RequestId: {self.request_id}  Duration: {self.duration_ms:.2f} ms  "
            f"Billed Duration: {self.billed_ms} ms  Memory Size: {self.memory_mb} MB  "
            f"Max Memory Used: {self.max_memory_used_mb} MB"
        )

    def cost(self, architecture: str | None = None) -> float:
        """The bill in US dollars (on another architecture: a mistake's bill)."""
        estimate = cost_of(
            self.requests, self.billed_ms, self.memory_mb, architecture or self.architecture
        )
        return estimate.total_usd

    def mistakes(self) -> list[float]:
        """What the usual mistakes give instead of `cost()`."""
        estimate = cost_of(self.requests, self.billed_ms, self.memory_mb, self.architecture)
        # Duration is billed in proportion to memory: the memory used gives that share of it.
        used_share = self.max_memory_used_mb / self.memory_mb
        other = next(name for name in ARCHITECTURES if name != self.architecture)
        return [
            estimate.duration_usd,
            estimate.requests_usd + estimate.duration_usd * used_share,
            self.cost(architecture=other),
        ]


@dataclass(frozen=True)
class MemorySizing:
    """q10: a prediction's duration on one full vCPU, and the memory the function gets."""

    measured_ms: float
    memory_mb: int

    def cost(self) -> float:
        """US dollars for a million warm predictions at `memory_mb` (lesson 13's estimate)."""
        return cost_per_million(self.measured_ms, self.memory_mb)

    def mistakes(self) -> list[float]:
        """What the usual mistakes give instead of `cost()`."""
        # Scaling the other way round: not at all below a full vCPU, or down above it.
        wrong_ms = self.measured_ms * (
            1.0 if self.memory_mb < ONE_VCPU_MB else ONE_VCPU_MB / self.memory_mb
        )
        no_requests = self.cost() - cost_of(1_000_000, 0, self.memory_mb).requests_usd
        return [cost_of(1_000_000, math.ceil(wrong_ms), self.memory_mb).total_usd, no_requests]


@dataclass(frozen=True)
class ComposedBill:
    """q11: a prediction composed of a backbone call and a head call (lesson 11), x86_64."""

    backbone_ms: int
    backbone_mb: int
    head_ms: int
    head_mb: int
    requests: int

    def cost(self) -> float:
        """US dollars for `requests` composed predictions: two invocations each."""
        return (cost_of(self.requests, self.backbone_ms, self.backbone_mb).total_usd
                + cost_of(self.requests, self.head_ms, self.head_mb).total_usd)  # fmt: skip

    def mistakes(self) -> list[float]:
        """What the usual mistakes give instead of `cost()`."""
        one_request = self.cost() - cost_of(self.requests, 0, self.head_mb).requests_usd
        head_at_backbone_memory = (
            cost_of(self.requests, self.backbone_ms, self.backbone_mb).total_usd
            + cost_of(self.requests, self.head_ms, self.backbone_mb).total_usd
        )
        return [one_request, head_at_backbone_memory]


def money_step(answer: float) -> float:
    """The step between the options of a question in US dollars."""
    return nice_step(STEP_SHARE * answer)


def _discriminating(answer: float, mistakes: list[float]) -> bool:
    step = money_step(answer)
    return all(abs(mistake - answer) >= MISTAKE_MARGIN * step for mistake in mistakes)


def report_bill(draw: Draw) -> ReportBill:
    """The learner's q8: the first drawn REPORT line whose usual mistakes all miss."""
    for attempt in range(ATTEMPTS):
        memory = REPORT_MEMORY_MB[draw("q8-memory", attempt) % len(REPORT_MEMORY_MB)]
        billed = 15 + draw("q8-billed", attempt) % 586  # 15-600 ms
        # Lambda rounds each duration up to the next millisecond.
        duration = billed - 1 + (1 + draw("q8-fraction", attempt) % 99) / 100
        used = min(memory - 1, 60 + draw("q8-used", attempt) % 340)
        bill = ReportBill(
            request_id=str(
                uuid.UUID(int=draw("q8-id", attempt) << 64 | draw("q8-id-end", attempt))
            ),
            duration_ms=duration,
            billed_ms=billed,
            memory_mb=memory,
            max_memory_used_mb=used,
            requests=REPORT_REQUESTS[draw("q8-requests", attempt) % len(REPORT_REQUESTS)],
            architecture=ARCHITECTURES[draw("q8-architecture", attempt) % len(ARCHITECTURES)],
        )
        if _discriminating(bill.cost(), bill.mistakes()):
            return bill
    raise RuntimeError("no REPORT line whose usual mistakes all miss")


def memory_sizing(draw: Draw) -> MemorySizing:
    """The learner's q10: the first drawn duration and memory whose usual mistakes all miss."""
    for attempt in range(ATTEMPTS):
        measured = (200 + draw("q10-duration", attempt) % 2801) / 10  # 20.0-300.0 ms
        memory = SIZING_MEMORY_MB[draw("q10-memory", attempt) % len(SIZING_MEMORY_MB)]
        sizing = MemorySizing(measured, memory)
        scaled = lambda_duration_ms(measured, memory)
        # Float rounding must not decide the billed millisecond: stay clear of whole numbers.
        if abs(scaled - round(scaled)) < 0.01:
            continue
        if _discriminating(sizing.cost(), sizing.mistakes()):
            return sizing
    raise RuntimeError("no duration and memory whose usual mistakes all miss")


def composed_bill(draw: Draw) -> ComposedBill:
    """The learner's q11: the first drawn composed call whose usual mistakes all miss."""
    for attempt in range(ATTEMPTS):
        bill = ComposedBill(
            backbone_ms=5 + draw("q11-backbone-ms", attempt) % 296,  # 5-300 ms
            backbone_mb=REPORT_MEMORY_MB[3 + draw("q11-backbone-mb", attempt) % 4],  # 1024+
            head_ms=1 + draw("q11-head-ms", attempt) % 10,  # 1-10 ms
            head_mb=HEAD_MEMORY_MB[draw("q11-head-mb", attempt) % len(HEAD_MEMORY_MB)],
            requests=REPORT_REQUESTS[draw("q11-requests", attempt) % len(REPORT_REQUESTS)],
        )
        if _discriminating(bill.cost(), bill.mistakes()):
            return bill
    raise RuntimeError("no composed call whose usual mistakes all miss")
