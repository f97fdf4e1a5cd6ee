"""Multiple-choice options generated from the correct value, and the "closest option" rule.

A numeric question shows four options in increasing order, `step` apart, one
of which is the correct value. Which of the four is correct (its slot) comes
from a seed, so the order says nothing; the slots that would put an option
outside the value's range (a probability above 1, a negative size) are never
used. Every option is on the same lattice as the correct value (a pixel
option is a multiple of 1/255 when the pixel is), so no option gives itself
away by its digits.

Because options are `step` apart, a value within `step / 2` of the correct
one is closest to it: that is the tolerance a learner's computation gets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LETTERS = ("A", "B", "C", "D")
OPTION_COUNT = len(LETTERS)


class OptionError(ValueError):
    """An answer cannot be matched to an option; the message says why in one line."""


@dataclass(frozen=True)
class NumericOptions:
    """Four numbers `step` apart, shown with `decimals` decimals and a `unit`."""

    values: tuple[float, ...]
    step: float
    decimals: int
    unit: str = ""

    def shown(self, index: int) -> str:
        """Option `index` as the learner sees it, e.g. `64.6` or `0.4118`."""
        return f"{self.values[index]:.{self.decimals}f}"

    def labels(self) -> list[str]:
        """Every option as shown, in letter order."""
        return [self.shown(i) for i in range(len(self.values))]

    def closest_letter(self, value: float) -> str:
        """The letter of the option closest to `value` (the "closest option" rule).

        Raises `OptionError` when `value` lies more than half a step beyond the
        first or last option, or exactly halfway between two options.
        """
        shown = [round(v, self.decimals) for v in self.values]
        low, high = shown[0] - self.step / 2, shown[-1] + self.step / 2
        if not low <= value <= high:
            span = f"{self.shown(0)}-{self.shown(len(shown) - 1)}"
            raise OptionError(f"{value:g} is not near any option (the options span {span})")
        distances = [abs(value - v) for v in shown]
        best = min(range(len(shown)), key=distances.__getitem__)
        ties = [
            i for i, d in enumerate(distances) if math.isclose(d, distances[best], abs_tol=1e-12)
        ]
        if len(ties) > 1:
            pair = " and ".join(LETTERS[i] for i in ties)
            raise OptionError(f"{value:g} is exactly halfway between {pair}; answer with a letter")
        return LETTERS[best]


def valid_slots(
    correct: float, step: float, lower: float | None = None, upper: float | None = None
) -> list[int]:
    """Slots (0 = A ... 3 = D) the correct value may take so every option stays in range."""
    slots = []
    for slot in range(OPTION_COUNT):
        first = correct - slot * step
        last = correct + (OPTION_COUNT - 1 - slot) * step
        # A hair of tolerance: a value exactly on a bound (a pixel of 1.0) is in range.
        if (lower is None or first >= lower - 1e-9) and (upper is None or last <= upper + 1e-9):
            slots.append(slot)
    return slots


def numeric_options(
    correct: float,
    step: float,
    seed: int,
    *,
    decimals: int,
    lower: float | None = None,
    upper: float | None = None,
    unit: str = "",
) -> tuple[NumericOptions, str]:
    """Four options around `correct` and the letter of the correct one.

    `seed` picks the slot among those that keep every option within
    [`lower`, `upper`]. `step` must be at least two units of the last shown
    decimal (one for values that are exact at that precision, such as whole
    numbers), so that rounding for display never changes which option is closest.
    """
    if not math.isfinite(correct):
        raise ValueError(f"the correct value must be finite, got {correct!r}")
    last_digit = 10.0**-decimals
    # Values already exact at the shown precision (whole numbers) need only one unit apart.
    exact = all(abs(x / last_digit - round(x / last_digit)) < 1e-9 for x in (correct, step))
    if step < (last_digit if exact else 2 * last_digit):
        raise ValueError(f"step {step} is too small to show with {decimals} decimals")
    slots = valid_slots(correct, step, lower, upper)
    if not slots:
        raise ValueError(f"no room for {OPTION_COUNT} options {step} apart around {correct}")
    slot = slots[seed % len(slots)]
    values = tuple(correct + (i - slot) * step for i in range(OPTION_COUNT))
    return NumericOptions(values, step, decimals, unit), LETTERS[slot]


def nice_step(magnitude: float) -> float:
    """The largest of 1, 2 or 5 times a power of ten that is not above `magnitude`."""
    if magnitude <= 0 or not math.isfinite(magnitude):
        raise ValueError(f"magnitude must be positive and finite, got {magnitude!r}")
    power = 10 ** math.floor(math.log10(magnitude))
    return max(f * power for f in (1, 2, 5) if f * power <= magnitude * (1 + 1e-12))
