"""Synthetic clothing dataset: the course's stand-in for clothing-dataset-small.

The course needs an image classifier trained "last week", but the machines that
run it are offline, so the images are drawn here instead of downloaded. Each
garment is a handful of polygons in a unit coordinate system (x to the right,
y downwards, the garment roughly within [-1, 1]), filled with a fabric pattern
and laid on a random background at a random position, scale and rotation.

Every image has its own random generator, seeded from (seed, split, class,
index), so any single image can be regenerated on its own and the output does
not depend on generation order or on the number of worker processes.

Command line::

    python -m serverless_dl.data.clothing dataset OUT_DIR [--seed N]
    python -m serverless_dl.data.clothing samples OUT_DIR [--seed N]
"""

from __future__ import annotations

import argparse
import colorsys
import json
import math
import multiprocessing
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from serverless_dl.base.cli import OneLineErrorParser, whole_number_from_zero

CLASSES = (
    "dress",
    "hat",
    "longsleeve",
    "outwear",
    "pants",
    "shirt",
    "shoes",
    "shorts",
    "skirt",
    "t-shirt",
)
SPLITS = ("train", "validation", "test")
# Every fabric a garment can be drawn in (`fabric_pattern` tells which one an image has).
FABRIC_PATTERNS = ("checks", "denim", "dots", "heather", "plain", "stripes")
DEFAULT_SEED = 1
DEFAULT_COUNTS = {"train": 500, "validation": 50, "test": 50}
IMAGE_SIZE = 192
JPEG_QUALITY = 90
SAMPLE_LABELS = ("pants", "shirt", "hat", "shoes", "dress")
MANIFEST_NAME = "manifest.json"
# Bump whenever the drawing changes, so that cached datasets are regenerated.
GENERATOR_VERSION = 1

# Stable numbers for the seed sequence; "samples" never overlaps the splits.
_SPLIT_IDS = {"train": 0, "validation": 1, "test": 2, "samples": 3}
_SUPERSAMPLE = 2  # draw at twice the size and downscale, for anti-aliased edges

Point = tuple[float, float]
T = TypeVar("T")


# --------------------------------------------------------------------------
# Random choices
# --------------------------------------------------------------------------


class Dice:
    """Random choices for one image.

    In typical mode (used for the sample images of the lessons) numbers stay
    near the middle of their range and `pick` takes the first, most typical
    option, so the samples are clear textbook examples of their class.
    """

    def __init__(self, rng: np.random.Generator, typical: bool = False) -> None:
        self.rng = rng
        self.typical = typical

    def uniform(self, low: float, high: float) -> float:
        """A number between `low` and `high`; in typical mode, from the middle fifth."""
        if self.typical:
            middle, half = (low + high) / 2, (high - low) / 10
            low, high = middle - half, middle + half
        return float(self.rng.uniform(low, high))

    def pick(self, options: Sequence[T], weights: Sequence[float] | None = None) -> T:
        """One of `options`, chosen with relative `weights`; in typical mode, the first."""
        if self.typical:
            return options[0]
        p = None if weights is None else np.asarray(weights, float) / sum(weights)
        return options[int(self.rng.choice(len(options), p=p))]

    def chance(self, probability: float) -> bool:
        """True with `probability`; in typical mode, whenever it is at least even."""
        if self.typical:
            return probability >= 0.5
        return bool(self.rng.random() < probability)


# --------------------------------------------------------------------------
# Shapes in garment coordinates
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """A filled polygon, or an open polyline when `width` > 0 (in garment units).

    `paint` names an entry of the palette; "fabric" is the patterned texture.
    """

    points: tuple[Point, ...]
    paint: str = "fabric"
    outline: bool = True
    width: float = 0.0


@dataclass(frozen=True)
class _Garment:
    shapes: list[_Shape]
    patterns: tuple[str, ...]  # fabric patterns that suit it, most typical first
    max_rotation: float = 12.0  # degrees


def _poly(points: Sequence[Point], paint: str = "fabric", outline: bool = True) -> _Shape:
    return _Shape(tuple(points), paint, outline)


def _line(points: Sequence[Point], width: float, paint: str = "outline") -> _Shape:
    return _Shape(tuple(points), paint, False, width)


def _rect(x0: float, y0: float, x1: float, y1: float, paint: str = "fabric") -> _Shape:
    return _poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], paint)


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 12):
    """Points on an ellipse from angle `start` to `end` (degrees, y pointing down)."""
    angles = np.radians(np.linspace(start, end, n))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


def _circle(cx: float, cy: float, radius: float, paint: str, outline: bool = True) -> _Shape:
    return _poly(_arc(cx, cy, radius, radius, 0, 360, 14)[:-1], paint, outline)


def _lerp(a: Point, b: Point, t: float) -> Point:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


def _mirrored(shape: _Shape) -> _Shape:
    """The shape reflected in the garment's vertical centre line."""
    return _Shape(tuple((-x, y) for x, y in reversed(shape.points)), *_fields(shape))


def _fields(shape: _Shape) -> tuple[str, bool, float]:
    return shape.paint, shape.outline, shape.width


def _both_sides(shapes: list[_Shape]) -> list[_Shape]:
    return shapes + [_mirrored(s) for s in shapes]


def _shifted(shapes: list[_Shape], dx: float, dy: float) -> list[_Shape]:
    return [_Shape(tuple((x + dx, y + dy) for x, y in s.points), *_fields(s)) for s in shapes]


def _hem(r: Dice, half_width: float, y: float, curve: float = 0.0, waves: int = 0) -> list[Point]:
    """Hem points from right to left: a curve sagging by `curve`, or scallops."""
    xs = np.linspace(half_width, -half_width, max(9, 4 * waves + 1))
    amplitude = r.uniform(0.03, 0.07) if waves else 0.0
    return [
        (
            float(x),
            y
            + curve * (1 - (x / half_width) ** 2)
            + amplitude * abs(math.sin(waves * math.pi * t)),
        )
        for t, x in zip(np.linspace(0, 1, len(xs)), xs, strict=True)
    ]


# --------------------------------------------------------------------------
# Tops: t-shirt, longsleeve, shirt, outwear share one torso and sleeve drawer
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Torso:
    top: float
    neck_w: float
    shoulder: Point  # right side; the left side is mirrored
    armpit: Point
    hem_w: float
    hem_y: float

    def half_width(self, y: float) -> float:
        """Half width of the body (without sleeves) at height `y`."""
        t = (y - self.armpit[1]) / (self.hem_y - self.armpit[1])
        return self.armpit[0] + (self.hem_w - self.armpit[0]) * min(max(t, 0.0), 1.0)


def _torso(r: Dice, length: tuple[float, float], roomy: float = 0.0) -> _Torso:
    shoulder_w = r.uniform(0.55, 0.68) + roomy
    drop = r.uniform(0.08, 0.16)
    top = -1.0
    return _Torso(
        top=top,
        neck_w=r.uniform(0.15, 0.2),
        shoulder=(shoulder_w, top + drop),
        armpit=(shoulder_w - 0.05, top + drop + r.uniform(0.36, 0.45) + roomy),
        hem_w=shoulder_w + r.uniform(-0.1, 0.03) + roomy / 2,
        hem_y=top + r.uniform(*length),
    )


def _body(t: _Torso, hem_curve: float, r: Dice) -> _Shape:
    """Body polygon; the neck follows the (shallow) back neckline."""
    back_neck = _arc(0, t.top, t.neck_w, 0.05, 180, 0, 9)
    right = [t.shoulder, t.armpit, (t.hem_w, t.hem_y)]
    hem = _hem(r, t.hem_w, t.hem_y, hem_curve)
    left = [(-x, y) for x, y in reversed(right)]
    return _poly(back_neck + right + hem + left)


def _neck_opening(t: _Torso, depth: float, v_neck: bool) -> list[_Shape]:
    """The inside of the back seen through the front neckline, plus its band."""
    if v_neck:
        front = [(-t.neck_w, t.top), (0.0, t.top + depth), (t.neck_w, t.top)]
    else:
        front = _arc(0, t.top, t.neck_w, depth, 180, 0, 11)
    back = _arc(0, t.top, t.neck_w, 0.05, 0, 180, 9)
    return [_poly(front + back, "lining"), _line(front, 0.05, "shade")]


def _sleeve(
    t: _Torso, angle: float, length: float, end_width: float, cuff: float = 0.0, quilts: int = 0
) -> list[_Shape]:
    """Right sleeve leaving the shoulder `angle` degrees below horizontal."""
    a = math.radians(angle)
    along, across = (math.cos(a), math.sin(a)), (-math.sin(a), math.cos(a))
    end_top = (t.shoulder[0] + length * along[0], t.shoulder[1] + length * along[1])
    end_bottom = (end_top[0] + end_width * across[0], end_top[1] + end_width * across[1])
    shapes = [_poly([t.shoulder, end_top, end_bottom, t.armpit])]
    for k in range(1, quilts + 1):
        f = k / (quilts + 1)
        shapes.append(_line([_lerp(t.shoulder, end_top, f), _lerp(t.armpit, end_bottom, f)], 0.025))
    if cuff:
        f_top = 1 - cuff / length
        f_bottom = 1 - cuff / math.dist(t.armpit, end_bottom)
        band = [_lerp(t.shoulder, end_top, f_top), end_top, end_bottom]
        shapes.append(_poly(band + [_lerp(t.armpit, end_bottom, f_bottom)]))
    return shapes


def _sleeves(
    t: _Torso, r: Dice, long: bool, cuff: float = 0.0, quilts: int = 0, padding: float = 0.0
) -> list[_Shape]:
    if long:
        angle = r.uniform(58, 80) if r.chance(0.85) else r.uniform(25, 45)
        length = r.uniform(1.15, 1.4) * (t.hem_y - t.top) / 1.7
        sleeve = _sleeve(t, angle, length, r.uniform(0.2, 0.3) + padding, cuff, quilts)
    else:
        armhole = t.armpit[1] - t.shoulder[1]
        sleeve = _sleeve(t, r.uniform(22, 45), r.uniform(0.32, 0.5), armhole * r.uniform(0.8, 1.0))
    return _both_sides(sleeve)


def _chest_print(t: _Torso, r: Dice) -> list[_Shape]:
    """A graphic on the chest of a t-shirt or longsleeve, in the trim colour."""
    y, size = t.top + r.uniform(0.45, 0.6), r.uniform(0.14, 0.26)
    kind = r.pick(("circle", "block", "bars"))
    if kind == "circle":
        return [_circle(0, y, size, "trim", outline=False)]
    if kind == "block":
        return [_rect(-size, y - size * 0.7, size, y + size * 0.7, "trim")]
    return [_line([(-size * 1.4, y + dy), (size * 1.4, y + dy)], 0.06, "trim") for dy in (0, 0.12)]


def _pocket(x: float, y: float, w: float, h: float, flap: bool) -> list[_Shape]:
    shapes = [_rect(x - w / 2, y, x + w / 2, y + h)]
    if flap:
        shapes.append(_rect(x - w / 2 - 0.01, y - 0.02, x + w / 2 + 0.01, y + h * 0.3))
    return shapes


def _buttons(x: float, y0: float, y1: float, n: int, radius: float) -> list[_Shape]:
    return [_circle(x, float(y), radius, "button") for y in np.linspace(y0, y1, n)]


def _hem_band(t: _Torso, height: float) -> _Shape:
    y = t.hem_y - height
    w = t.half_width(y)
    return _poly([(-w, y), (w, y), (t.hem_w, t.hem_y), (-t.hem_w, t.hem_y)])


def _tshirt(r: Dice) -> _Garment:
    t = _torso(r, (1.45, 1.75))
    shapes = [_body(t, 0.0, r), *_neck_opening(t, r.uniform(0.1, 0.16), r.chance(0.25))]
    if r.chance(0.4):
        shapes += _chest_print(t, r)
    elif r.chance(0.2):
        shapes += _pocket(-0.3, t.top + 0.4, 0.2, 0.22, flap=False)
    shapes.append(_line([(-t.hem_w, t.hem_y - 0.07), (t.hem_w, t.hem_y - 0.07)], 0.015, "shade"))
    shapes += _sleeves(t, r, long=False)
    return _Garment(shapes, ("plain", "stripes", "heather", "dots", "checks"))


def _longsleeve(r: Dice) -> _Garment:
    t = _torso(r, (1.4, 1.7))
    shapes = [_body(t, 0.0, r), *_neck_opening(t, r.uniform(0.1, 0.16), r.chance(0.2))]
    if r.chance(0.25):
        shapes += _chest_print(t, r)
    if r.chance(0.5):
        shapes.append(_hem_band(t, 0.1))
    shapes += _sleeves(t, r, long=True, cuff=r.uniform(0.08, 0.14))
    return _Garment(shapes, ("plain", "stripes", "heather", "dots"))


def _shirt_collar(t: _Torso, r: Dice) -> list[_Shape]:
    spread, drop = r.uniform(0.24, 0.32), r.uniform(0.26, 0.34)
    w = t.neck_w
    band = _rect(-w - 0.04, t.top - 0.06, w + 0.04, t.top + 0.03, "collar")
    flap = _poly(
        [
            (-0.01, t.top + 0.13),
            (-w - 0.04, t.top - 0.04),
            (-w - 0.07, t.top + 0.08),
            (-spread, t.top + drop),
        ],
        "collar",
    )
    return [band, flap, _mirrored(flap)]


def _shirt(r: Dice) -> _Garment:
    t = _torso(r, (1.6, 1.9))
    hem_curve = r.uniform(0.04, 0.12)
    placket_w = r.uniform(0.05, 0.065)
    shapes = [_body(t, hem_curve, r), *_neck_opening(t, 0.16, v_neck=True)]
    shapes.append(_rect(-placket_w, t.top + 0.12, placket_w, t.hem_y + hem_curve * 0.97))
    if r.chance(0.5):
        shapes += _pocket(-0.3, t.top + 0.4, r.uniform(0.18, 0.24), 0.24, flap=r.chance(0.5))
    n = int(round(r.uniform(5, 7)))
    shapes += _buttons(0, t.top + 0.24, t.hem_y - 0.12, n, r.uniform(0.04, 0.05))
    long = r.chance(0.75)
    shapes += _sleeves(t, r, long=long, cuff=r.uniform(0.1, 0.15) if long else 0.0)
    shapes += _shirt_collar(t, r)
    return _Garment(shapes, ("plain", "checks", "stripes", "dots"))


def _zip(t: _Torso, top: float) -> list[_Shape]:
    pull = _rect(-0.03, top + 0.06, 0.03, top + 0.18, "metal")
    return [_line([(0, top), (0, t.hem_y)], 0.06, "metal"), pull]


def _hood(t: _Torso, r: Dice) -> list[_Shape]:
    w, h = t.neck_w + r.uniform(0.13, 0.2), r.uniform(0.32, 0.42)
    outer = _arc(0, t.top + 0.1, w, h, 180, 360, 13)
    inner = _arc(0, t.top + 0.1, w - 0.08, h - 0.1, 180, 360, 11)
    return [_poly(outer), _poly(inner, "lining")]


def _drawstrings(t: _Torso) -> list[_Shape]:
    string = _line([(0.09, t.top + 0.04), (0.11, t.top + 0.45)], 0.025, "trim")
    return _both_sides([string, _circle(0.11, t.top + 0.47, 0.03, "metal")])


def _stand_collar(t: _Torso) -> _Shape:
    w = t.neck_w + 0.05
    return _poly(
        [(-w, t.top - 0.12), (w, t.top - 0.12), (w - 0.02, t.top + 0.07), (-w + 0.02, t.top + 0.07)]
    )


def _quilting(t: _Torso, spacing: float) -> list[_Shape]:
    ys = np.arange(t.top + 0.3, t.hem_y - 0.1, spacing)
    return [_line([(-t.half_width(y), y), (t.half_width(y), y)], 0.025) for y in ys]


def _lapels(t: _Torso, r: Dice) -> list[_Shape]:
    depth = r.uniform(0.55, 0.8)
    inner = _poly([(-t.neck_w, t.top), (t.neck_w, t.top), (0, t.top + depth)], "inner")
    lapel = _poly(
        [
            (-t.neck_w, t.top - 0.02),
            (-0.01, t.top + depth),
            (-0.14, t.top + depth * 0.6),
            (-t.neck_w - 0.14, t.top + 0.16),
        ]
    )
    front = _line([(0, t.top + depth), (0, t.hem_y)], 0.015)
    return [inner, front, lapel, _mirrored(lapel)]


def _outwear(r: Dice) -> _Garment:
    style = r.pick(("jacket", "hoodie", "puffer", "coat"))
    long_coat = style == "coat"
    t = _torso(r, (2.1, 2.6) if long_coat else (1.8, 2.2), roomy=r.uniform(0.08, 0.16))
    shapes = [] if style != "hoodie" else _hood(t, r)
    shapes.append(_body(t, 0.0, r))
    zipped = style != "hoodie" or r.chance(0.7)
    if style == "puffer":
        shapes += _quilting(t, r.uniform(0.2, 0.28))
    if style == "coat":
        shapes += _lapels(t, r)
        shapes += _both_sides(_pocket(0.35, t.hem_y - 0.7, 0.28, 0.08, flap=False))
        if r.chance(0.35):
            y = t.top + 0.85
            shapes += [
                _rect(-t.half_width(y), y, t.half_width(y), y + 0.1),
                _rect(-0.06, y - 0.01, 0.06, y + 0.11, "metal"),
            ]
    else:
        shapes.append(_hem_band(t, r.uniform(0.1, 0.16)))
        if style == "hoodie" and not zipped:
            y = t.hem_y - 0.55
            shapes.append(_poly([(-0.3, y), (0.3, y), (0.42, y + 0.4), (-0.42, y + 0.4)]))
        elif style == "jacket" and r.chance(0.6):
            shapes += _both_sides(_pocket(0.3, t.hem_y - 0.7, 0.26, 0.22, flap=True))
        else:
            slash = _line([(0.25, t.hem_y - 0.6), (0.35, t.hem_y - 0.3)], 0.03)
            shapes += _both_sides([slash])
        if style != "hoodie":
            shapes.append(_stand_collar(t))
        if zipped:
            shapes += _zip(t, t.top - 0.12 if style != "hoodie" else t.top + 0.05)
        if style == "hoodie":
            shapes += _drawstrings(t)
    quilts = int(round(r.uniform(3, 5))) if style == "puffer" else 0
    shapes += _sleeves(t, r, True, r.uniform(0.1, 0.16), quilts, padding=r.uniform(0.04, 0.1))
    return _Garment(shapes, ("plain", "heather", "denim"))


# --------------------------------------------------------------------------
# Bottoms: pants and shorts share the drawer; skirt and dress
# --------------------------------------------------------------------------


def _bottoms(r: Dice, inseam: float, hem_width: float, splay: float) -> list[_Shape]:
    """Trousers of any leg length: waistband, two legs, fly, pockets."""
    top = -1.0
    waist_w, band = r.uniform(0.42, 0.52), r.uniform(0.08, 0.12)
    hip = (waist_w + r.uniform(0.03, 0.08), top + band + r.uniform(0.22, 0.32))
    crotch = (0.0, top + r.uniform(0.6, 0.72))
    hem_y = crotch[1] + inseam
    outer = (hip[0] + splay, hem_y)
    inner = (max(outer[0] - hem_width, 0.12), hem_y)
    legs = [(waist_w, top + band), hip, outer, inner, crotch]
    legs += [(-x, y) for x, y in reversed(legs)]
    elastic = r.chance(0.25)
    shapes = [
        _poly(legs),
        _rect(-waist_w, top, waist_w, top + band, "trim" if elastic else "fabric"),
    ]
    if elastic:
        string = _line([(0.04, top + band * 0.6), (0.07, top + band + 0.25)], 0.025, "white")
        shapes += _both_sides([string])
    else:
        fly = [(0.09, top + band), (0.09, crotch[1] - 0.14), (0.0, crotch[1] - 0.05)]
        pocket = [
            (waist_w - 0.2, top + band),
            (waist_w - 0.12, top + band + 0.12),
            (hip[0] - 0.01, top + band + 0.2),
        ]
        loop = _rect(waist_w - 0.28, top - 0.01, waist_w - 0.24, top + band + 0.01)
        shapes += [_line(fly, 0.02, "stitch"), _circle(0, top + band / 2, 0.03, "metal")]
        shapes += _both_sides([_line(pocket, 0.02, "stitch"), loop])
    if r.chance(0.3):
        cuff = 0.08 if inseam < 0.6 else 0.12
        leg_in, leg_out = (
            _lerp(inner, crotch, cuff / inseam),
            _lerp(outer, hip, cuff / (hem_y - hip[1])),
        )
        shapes += _both_sides([_poly([leg_in, leg_out, outer, inner])])
    elif r.chance(0.3):
        shapes += _both_sides([_line([_lerp(hip, crotch, 0.05), outer], 0.05, "trim")])
    return shapes


def _pants(r: Dice) -> _Garment:
    shapes = _bottoms(r, r.uniform(1.25, 1.6), r.uniform(0.3, 0.45), r.uniform(-0.12, 0.08))
    return _Garment(shapes, ("denim", "plain", "heather", "checks"))


def _shorts(r: Dice) -> _Garment:
    shapes = _bottoms(r, r.uniform(0.22, 0.45), r.uniform(0.42, 0.55), r.uniform(0.04, 0.16))
    return _Garment(shapes, ("denim", "plain", "checks", "stripes", "dots"))


def _folds(top_w: float, top_y: float, hem_w: float, hem_y: float, n: int) -> list[_Shape]:
    """Pleats or folds fanning out from the waist to the hem."""
    return [
        _line([(top_w * f, top_y + 0.05), (hem_w * f * 0.95, hem_y - 0.02)], 0.02, "shade")
        for f in np.linspace(-0.8, 0.8, n)
    ]


def _skirt(r: Dice) -> _Garment:
    top = -1.0
    waist_w, band = r.uniform(0.38, 0.5), r.uniform(0.08, 0.12)
    hem_w, hem_y = waist_w + r.uniform(0.12, 0.75), top + band + r.uniform(0.85, 1.7)
    waves = int(round(r.uniform(4, 7))) if hem_w - waist_w > 0.4 and r.chance(0.3) else 0
    hem = _hem(r, hem_w, hem_y, r.uniform(0.02, 0.1), waves)
    shapes = [_poly([(-waist_w, top + band), (waist_w, top + band), *hem])]
    shapes.append(_rect(-waist_w, top, waist_w, top + band))
    if r.chance(0.45):
        shapes += _folds(waist_w, top + band, hem_w, hem_y, int(round(r.uniform(3, 8))))
    elif r.chance(0.2):
        shapes += _buttons(0, top + band + 0.12, hem_y - 0.15, int(round(r.uniform(4, 6))), 0.035)
    return _Garment(shapes, ("plain", "checks", "dots", "denim", "stripes"))


def _dress(r: Dice) -> _Garment:
    top = -1.0
    bust_w = r.uniform(0.32, 0.42)
    waist = (bust_w - r.uniform(0.03, 0.09), top + r.uniform(0.5, 0.7))
    hem_w, hem_y = waist[0] + r.uniform(0.35, 0.85), waist[1] + r.uniform(1.0, 1.6)
    neck_w, neck_depth = r.uniform(0.13, 0.19), r.uniform(0.12, 0.3)
    style = r.pick(("sleeveless", "straps", "short sleeves"))
    waves = int(round(r.uniform(5, 8))) if r.chance(0.25) else 0
    skirt = [
        (bust_w + 0.02, top + 0.15),
        waist,
        *_hem(r, hem_w, hem_y, r.uniform(0.02, 0.1), waves),
    ]
    skirt.append((-waist[0], waist[1]))
    skirt.append((-bust_w - 0.02, top + 0.15))
    extras: list[_Shape] = []
    if style == "straps":
        neckline = _arc(0, top, neck_w + 0.1, neck_depth * 0.5, 180, 0, 9)
        body = [(-bust_w, top), *neckline, (bust_w, top), *skirt]
        strap = _line([(bust_w - 0.08, top + 0.02), (neck_w + 0.04, top - 0.38)], 0.06, "fabric")
        extras += _both_sides([strap])
    else:
        shoulder_y = top - r.uniform(0.3, 0.4)
        shoulder = (neck_w + r.uniform(0.1, 0.17), shoulder_y + 0.03)
        neckline = _arc(0, shoulder_y, neck_w, neck_depth, 180, 0, 11)
        armhole = [(shoulder[0] - 0.03, shoulder_y + 0.2), (bust_w - 0.04, top + 0.05)]
        right = [shoulder, *armhole]
        left = [(-x, y) for x, y in reversed(right)]
        body = [*neckline, *right, *skirt, *left]
        if style == "short sleeves":
            t = _Torso(top, neck_w, shoulder, (bust_w + 0.01, top + 0.12), hem_w, hem_y)
            extras += _both_sides(_sleeve(t, r.uniform(15, 40), r.uniform(0.25, 0.4), 0.3))
    shapes = [_poly(body)]
    if r.chance(0.45):
        shapes += _folds(waist[0], waist[1], hem_w, hem_y, int(round(r.uniform(3, 6))))
    belt = r.chance(0.4)
    waistline = [(-waist[0], waist[1]), (waist[0], waist[1])]
    shapes.append(_line(waistline, 0.08 if belt else 0.02, "trim" if belt else "shade"))
    return _Garment(shapes + extras, ("plain", "dots", "stripes", "checks", "heather"))


# --------------------------------------------------------------------------
# Hats and shoes
# --------------------------------------------------------------------------


def _hat(r: Dice) -> _Garment:
    style = r.pick(("brimmed", "cap", "beanie"))
    if style == "brimmed":
        brim_y, crown_w = 0.25, r.uniform(0.4, 0.5)
        crown_top = brim_y - r.uniform(0.5, 0.75)
        crown = [(-crown_w, brim_y), (-crown_w + 0.06, crown_top + 0.12)]
        crown += _arc(0, crown_top + 0.12, crown_w - 0.06, 0.12, 180, 360, 9)
        crown += [(crown_w - 0.06, crown_top + 0.12), (crown_w, brim_y)]
        band_h = r.uniform(0.08, 0.14)
        band = [
            (-crown_w, brim_y),
            (-crown_w + 0.015, brim_y - band_h),
            (crown_w - 0.015, brim_y - band_h),
            (crown_w, brim_y),
        ]
        brim = _arc(0, brim_y, r.uniform(0.85, 1.05), r.uniform(0.14, 0.28), 0, 360, 25)
        shapes = [_poly(brim), _poly(crown), _poly(band, "trim")]
    elif style == "cap":
        dome = _arc(-0.15, 0.2, 0.62, r.uniform(0.58, 0.7), 180, 360, 15)
        reach, droop = r.uniform(0.45, 0.6), r.uniform(0.03, 0.1)
        visor = [(0.3, 0.26), (0.3, 0.14), *_arc(0.42, 0.2 + droop, reach, 0.08, -90, 90, 9)]
        seams = [_line([(-0.15, dome[7][1]), (x, 0.2)], 0.02, "shade") for x in (-0.5, 0.2)]
        shapes = [_poly(dome), *seams, _poly(visor, "trim" if r.chance(0.4) else "fabric")]
        shapes.append(_circle(-0.15, dome[7][1], 0.05, "fabric"))
    else:
        height, cuff = r.uniform(0.6, 0.8), r.uniform(0.25, 0.35)
        dome = _arc(0, 0.1, 0.58, height, 180, 360, 15)
        shapes = [_poly(dome), _rect(-0.62, 0.1 - 0.02, 0.62, 0.1 + cuff)]
        ribs = [
            _line([(x, 0.12), (x, 0.08 + cuff)], 0.018, "shade") for x in np.linspace(-0.5, 0.5, 9)
        ]
        shapes += ribs
        if r.chance(0.5):
            shapes.append(_circle(0, 0.1 - height - 0.1, r.uniform(0.14, 0.2), "trim"))
    return _Garment(shapes, ("plain", "heather", "checks", "stripes"), max_rotation=20)


def _shoe(r: Dice, boot: bool) -> list[_Shape]:
    """One shoe in side view, heel on the left, toe on the right."""
    ground, sole_h = 0.35, r.uniform(0.1, 0.22) + (0.06 if boot else 0.0)
    sole_top = ground - sole_h
    sole = [
        (-1.0, sole_top),
        (0.88, sole_top),
        (1.0, sole_top - 0.06),
        (1.03, ground - 0.08),
        (0.92, ground),
        (-0.96, ground),
        (-1.02, ground - 0.05),
    ]
    collar_y = sole_top - r.uniform(0.5, 0.7) - (r.uniform(0.45, 0.7) if boot else 0.0)
    instep = (-0.25 if boot else -0.3, collar_y + (0.45 if boot else -0.02))
    vamp = (0.35, sole_top - r.uniform(0.3, 0.38))
    toe = _arc(0.72, sole_top, 0.3, sole_top - vamp[1], 270, 360, 6)
    upper = [
        (-0.98, sole_top),
        (-1.03, collar_y + 0.2),
        (-0.92, collar_y),
        (-0.5 if boot else -0.6, collar_y + (0.0 if boot else 0.14)),
        instep,
        vamp,
        *toe,
    ]
    shapes = [_poly(upper), _poly(sole, "sole")]
    eyelets = [_lerp(instep, vamp, f) for f in np.linspace(0.1, 0.75, int(round(r.uniform(4, 6))))]
    if boot:
        eyelets += [_lerp((-0.5, collar_y), instep, f) for f in (0.2, 0.45, 0.7)]
    for x, y in eyelets:  # laces cross the front edge, slightly inside the upper
        shapes.append(_line([(x - 0.09, y - 0.01), (x + 0.01, y + 0.09)], 0.04, "trim"))
    if not boot and r.chance(0.6):
        stripe = [
            (-0.55, sole_top - 0.05),
            (0.1, sole_top - 0.3),
            (0.2, sole_top - 0.22),
            (-0.3, sole_top - 0.02),
        ]
        shapes.append(_poly(stripe, "trim"))
    shapes.append(_line(_arc(0.85, sole_top, 0.22, 0.2, 190, 280, 6), 0.02, "shade"))
    return shapes


def _shoes(r: Dice) -> _Garment:
    boot = r.chance(0.25)
    shoe = _shoe(r, boot)
    if r.chance(0.4):
        shoe = _shifted(shoe, r.uniform(-0.25, 0.25), -r.uniform(0.2, 0.3)) + shoe
    return _Garment(shoe, ("plain", "heather", "denim", "checks"), max_rotation=20)


_BUILDERS: dict[str, Callable[[Dice], _Garment]] = {
    "dress": _dress,
    "hat": _hat,
    "longsleeve": _longsleeve,
    "outwear": _outwear,
    "pants": _pants,
    "shirt": _shirt,
    "shoes": _shoes,
    "shorts": _shorts,
    "skirt": _skirt,
    "t-shirt": _tshirt,
}


# --------------------------------------------------------------------------
# Colours, fabrics and backgrounds (float arrays, H x W x 3, 0..255)
# --------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    return x, y


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), np.float32) * 255


def _smooth_noise(r: Dice, size: int, cells: int) -> np.ndarray:
    """Values in [0, 1] that vary smoothly over about size / cells pixels."""
    small = r.rng.random((cells, cells), dtype=np.float32)
    big = Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(big), 0.0, 1.0)


def _noise(r: Dice, size: int, sigma: float) -> np.ndarray:
    """Grey per-pixel noise, broadcastable over the colour channels."""
    return r.rng.standard_normal((size, size, 1), np.float32) * sigma


def garment_colour(r: Dice, avoid: np.ndarray) -> np.ndarray:
    """A clothing colour that stands out from the background colour `avoid`."""
    colour = avoid
    for _ in range(20):
        if r.pick(("colour", "neutral"), (0.6, 0.4)) == "colour":
            colour = _hsv(r.rng.random(), r.uniform(0.35, 0.9), r.uniform(0.3, 0.9))
        else:
            colour = _hsv(r.rng.random(), r.uniform(0.0, 0.2), r.uniform(0.08, 0.95))
        if np.abs(colour - avoid).sum() > 150:
            break
    return colour


def _stripes(coordinate: np.ndarray, period: float, duty: float) -> np.ndarray:
    return (np.mod(coordinate, period) < duty * period).astype(np.float32)


def fabric_texture(
    r: Dice, size: int, pattern: str, base: np.ndarray, second: np.ndarray
) -> np.ndarray:
    """A `size`-pixel square of cloth (float RGB): `pattern` in `base` and `second`, with folds.

    Shared with the homework's swatches, so its fabrics are drawn as the dataset's are.
    """
    x, y = _grid(size)
    period = r.uniform(7, 18)
    if pattern == "stripes":
        angle = math.radians(r.pick((0, 90, 45, -45, r.uniform(0, 180))))
        amount = _stripes(x * math.cos(angle) + y * math.sin(angle), period, r.uniform(0.25, 0.6))
    elif pattern == "checks":
        duty = r.uniform(0.25, 0.5)
        amount = (_stripes(x, period, duty) + _stripes(y, period, duty)) / 2
    elif pattern == "dots":
        shift = _stripes(y, 2 * period, 0.5) * period / 2
        dx, dy = np.mod(x + shift, period) - period / 2, np.mod(y, period) - period / 2
        amount = (dx * dx + dy * dy < (r.uniform(0.15, 0.32) * period) ** 2).astype(np.float32)
    else:
        amount = np.zeros((size, size), np.float32)
    texture = base + amount[..., None] * (second - base)
    if pattern == "denim":
        twill = 0.92 + 0.08 * np.sin((x + y) * (2 * math.pi / 3))
        texture = texture * twill[..., None] + _noise(r, size, 10)
    elif pattern == "heather":
        texture = texture + _noise(r, size, 12)
    folds = 0.82 + 0.3 * _smooth_noise(r, size, int(round(r.uniform(4, 8))))
    return texture * folds[..., None]


def draw_background(r: Dice, size: int) -> np.ndarray:
    """A random `size`-pixel backdrop (float RGB): plain, gradient, noise, wood or tiles."""
    x, y = _grid(size)
    style = r.pick(("plain", "gradient", "noise", "wood", "tiles"), (4, 3, 1.5, 1.5, 1))
    light = _hsv(r.rng.random(), r.uniform(0.0, 0.25), r.uniform(0.75, 0.98))
    if style == "plain":
        return np.broadcast_to(light, (size, size, 3)) + _noise(r, size, 2)
    if style == "gradient":
        other = _hsv(r.rng.random(), r.uniform(0.0, 0.4), r.uniform(0.35, 0.95))
        angle = r.uniform(0, 2 * math.pi)
        t = (x * math.cos(angle) + y * math.sin(angle)) / size
        t = (t - t.min()) / (t.max() - t.min())
        return light + t[..., None] * (other - light)
    if style == "noise":
        base = _hsv(r.rng.random(), r.uniform(0.0, 0.5), r.uniform(0.35, 0.9))
        shade = 0.85 + 0.3 * _smooth_noise(r, size, int(round(r.uniform(6, 20))))
        return base * shade[..., None] + _noise(r, size, 8)
    if style == "wood":
        base = _hsv(r.uniform(0.05, 0.11), r.uniform(0.3, 0.65), r.uniform(0.35, 0.85))
        across, along = (y, x) if r.chance(0.5) else (x, y)
        plank = r.uniform(size / 6, size / 3)
        index = ((across + r.uniform(0, plank)) // plank).astype(int)
        board = r.rng.uniform(0.88, 1.1, index.max() + 1)[index]
        warp = 6 * _smooth_noise(r, size, 5)
        grain = 0.93 + 0.07 * np.sin(across * r.uniform(0.5, 1.2) + warp + along * 0.01)
        seam = np.where(np.mod(across + 1, plank) < 2, 0.75, 1.0)
        return base * (board * grain * seam)[..., None]
    tile = r.uniform(size / 5, size / 2.5)
    grout = (np.mod(x, tile) < 2) | (np.mod(y, tile) < 2)
    base = light * (0.9 + 0.1 * _smooth_noise(r, size, 6))[..., None]
    return np.where(grout[..., None], light * 0.75, base)


def _palette(r: Dice, base: np.ndarray, pattern: str) -> dict[str, tuple[int, ...]]:
    trim = _hsv(r.rng.random(), r.uniform(0.4, 1.0), r.uniform(0.5, 1.0))
    if np.abs(trim - base).sum() < 150:
        trim = 255 - trim
    white = np.array([238, 236, 230], np.float32)
    colours = {
        "shade": base * 0.8,
        "lining": base * 0.55,
        "outline": base * 0.5,
        "trim": trim,
        # Light metal on dark cloth and dark metal on light cloth, so zips show.
        "metal": np.full(3, r.uniform(175, 215) if base.mean() < 120 else r.uniform(40, 80)),
        "stitch": np.array([205, 140, 60], np.float32) if pattern == "denim" else base * 0.7,
        "sole": r.pick((white, trim, np.full(3, 40.0, np.float32), base * 0.6)),
        "button": r.pick((white, trim, base * 0.4)),
        "inner": _hsv(r.rng.random(), r.uniform(0.0, 0.6), r.uniform(0.3, 0.95)),
        "collar": base if r.chance(0.8) else white,
        "white": white,
        "fabric": base,
    }
    return {name: tuple(int(v) for v in np.clip(c, 0, 255)) for name, c in colours.items()}


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------


def to_uint8_image(array: np.ndarray) -> Image.Image:
    """An RGB image from a float array, clipped to 0-255 first so bright folds do not wrap."""
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB")


@dataclass(frozen=True)
class _Placement:
    """Maps garment coordinates to canvas pixels: flip, stretch, rotate, then scale and shift."""

    flip: float
    stretch: float
    angle: float  # radians
    scale: float = 1.0
    origin: tuple[float, float] = (0.0, 0.0)

    def turn(self, x: float, y: float) -> Point:
        x, y = self.flip * x * self.stretch, y / self.stretch
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        return (x * cos - y * sin, x * sin + y * cos)

    def __call__(self, points: Sequence[Point]) -> list[Point]:
        (ox, oy), scale = self.origin, self.scale
        return [(ox + scale * px, oy + scale * py) for px, py in (self.turn(*p) for p in points)]


def _placement(r: Dice, garment: _Garment, canvas: int) -> _Placement:
    """A random pose that keeps the whole garment on a `canvas`-pixel square."""
    angle = math.radians(r.uniform(-garment.max_rotation, garment.max_rotation))
    pose = _Placement(-1.0 if r.chance(0.5) else 1.0, r.uniform(0.92, 1.08), angle)
    turned = np.array([pose.turn(x, y) for s in garment.shapes for x, y in s.points])
    low, high = turned.min(axis=0), turned.max(axis=0)
    scale = r.uniform(0.68, 0.9) * canvas / float((high - low).max())
    slack = (canvas - scale * (high - low)) / 2
    offset = np.array([r.uniform(-1, 1), r.uniform(-1, 1)]) * slack * 0.8
    origin = canvas / 2 + offset - scale * (low + high) / 2
    return replace(pose, scale=scale, origin=(float(origin[0]), float(origin[1])))


def _paste_inside(canvas: Image.Image, fabric: Image.Image, pixels: list) -> None:
    """Copy `fabric` into the polygon; the mask only covers its bounding box, for speed."""
    xs, ys = [x for x, _ in pixels], [y for _, y in pixels]
    left, top = max(int(min(xs)), 0), max(int(min(ys)), 0)
    right, bottom = min(int(max(xs)) + 2, canvas.width), min(int(max(ys)) + 2, canvas.height)
    if right <= left or bottom <= top:
        return
    mask = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(mask).polygon([(x - left, y - top) for x, y in pixels], fill=255)
    box = (left, top, right, bottom)
    canvas.paste(fabric.crop(box), box, mask)


def _paint(
    canvas: Image.Image, fabric: Image.Image, shape: _Shape, place: _Placement, palette: dict
) -> None:
    pixels, scale = place(shape.points), place.scale
    draw = ImageDraw.Draw(canvas)
    colour = palette[shape.paint]
    # At least two output pixels, so that lines survive the 2x nearest resize of the model input.
    outline_width = max(2, round(canvas.width / 96))
    if shape.width > 0:
        if shape.paint == "fabric":  # a strap: fabric-coloured band with a dark edge
            draw.line(
                pixels,
                fill=palette["outline"],
                width=round(shape.width * scale) + 2 * outline_width,
            )
        draw.line(
            pixels, fill=colour, width=max(outline_width, round(shape.width * scale)), joint="curve"
        )
        return
    if shape.paint == "fabric":
        _paste_inside(canvas, fabric, pixels)
        edge = palette["outline"]
    else:
        draw.polygon(pixels, fill=colour)
        edge = tuple(int(c * 0.6) for c in colour)
    if shape.outline:
        draw.line([*pixels, pixels[0]], fill=edge, width=outline_width, joint="curve")


def _cast_shadow(r: Dice, canvas: Image.Image, garment: _Garment, place: _Placement) -> Image.Image:
    """Darken the background under a blurred, offset copy of the silhouette."""
    shrink = _SUPERSAMPLE  # a blurred shadow needs no anti-aliasing: draw it at output size
    mask = Image.new("L", (canvas.width // shrink, canvas.height // shrink), 0)
    draw = ImageDraw.Draw(mask)
    shift = canvas.width * r.uniform(0.0, 0.03)
    for shape in garment.shapes:
        if shape.width == 0:
            pixels = [((x + shift) / shrink, (y + shift) / shrink) for x, y in place(shape.points)]
            draw.polygon(pixels, fill=255)
    opacity = r.uniform(0.25, 0.55)
    mask = mask.filter(ImageFilter.GaussianBlur(mask.width * r.uniform(0.01, 0.03)))
    mask = mask.point([round(v * opacity) for v in range(256)])
    mask = mask.resize(canvas.size, Image.Resampling.NEAREST)
    return Image.composite(Image.new("RGB", canvas.size, (20, 20, 20)), canvas, mask)


def finish_photo(r: Dice, image: Image.Image) -> Image.Image:
    """Camera-like variation: exposure, sensor noise and, sometimes, slight blur."""
    array = np.asarray(image, np.float32) * r.uniform(0.85, 1.12) + r.uniform(-12, 12)
    array += r.rng.standard_normal(array.shape, np.float32) * r.uniform(0.0, 5.0)
    image = to_uint8_image(array)
    if r.chance(0.25):
        image = image.filter(ImageFilter.GaussianBlur(r.uniform(0.3, 0.9)))
    return image


def _garment_and_fabric(r: Dice, label: str, size: int):
    """The first choices for an image: garment, background, base colour and fabric pattern."""
    if label not in _BUILDERS:
        raise ValueError(f"unknown label {label!r}; expected one of {', '.join(CLASSES)}")
    garment = _BUILDERS[label](r)
    background = draw_background(r, size)
    base = garment_colour(r, background.reshape(-1, 3).mean(axis=0))
    # Half of the garments wear the most typical fabric of their class (mostly plain).
    others = len(garment.patterns) - 1
    pattern = r.pick(garment.patterns, (others,) + (1,) * others)
    return garment, background, base, pattern


def draw_garment(
    label: str, rng: np.random.Generator, size: int = IMAGE_SIZE, *, typical: bool = False
) -> Image.Image:
    """Draw one random garment of class `label` as an RGB image of `size` x `size`.

    All randomness comes from `rng`. With `typical=True` the garment is a
    clear, centred, textbook example (used for the lessons' sample images).
    """
    r = Dice(rng, typical)
    garment, background, base, pattern = _garment_and_fabric(r, label, size)
    if pattern == "denim":
        base = _hsv(r.uniform(0.58, 0.64), r.uniform(0.4, 0.75), r.uniform(0.3, 0.75))
    second = garment_colour(r, base)
    palette = _palette(r, base, pattern)
    big = size * _SUPERSAMPLE
    # Nearest keeps flat areas exactly as computed once `reduce` averages the blocks back.
    upscale = Image.Resampling.NEAREST
    canvas = to_uint8_image(background).resize((big, big), upscale)
    fabric = to_uint8_image(fabric_texture(r, size, pattern, base, second)).resize(
        (big, big), upscale
    )
    place = _placement(r, garment, big)
    if r.chance(0.7):
        canvas = _cast_shadow(r, canvas, garment, place)
    for shape in garment.shapes:
        _paint(canvas, fabric, shape, place, palette)
    return finish_photo(r, canvas.reduce(_SUPERSAMPLE))


# --------------------------------------------------------------------------
# Deterministic images, dataset and samples
# --------------------------------------------------------------------------


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def image_rng(label: str, split: str, index: int, seed: int = DEFAULT_SEED) -> np.random.Generator:
    """The random generator of one image, derived from (seed, split, class, index) only."""
    _check_seed(seed)
    if label not in CLASSES:
        raise ValueError(f"unknown label {label!r}; expected one of {', '.join(CLASSES)}")
    if split not in _SPLIT_IDS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(_SPLIT_IDS)}")
    if index < 0:
        raise ValueError(f"index must be non-negative, got {index}")
    return np.random.default_rng([seed, _SPLIT_IDS[split], CLASSES.index(label), index])


def generate_image(
    label: str, split: str, index: int, seed: int = DEFAULT_SEED, size: int = IMAGE_SIZE
) -> Image.Image:
    """Image number `index` of class `label` in `split`; the same arguments give the same image.

    `split` is "train", "validation", "test" or "samples" (typical examples
    for the lessons, never part of the dataset).
    """
    rng = image_rng(label, split, index, seed)
    return draw_garment(label, rng, size, typical=split == "samples")


def fabric_pattern(
    label: str, split: str, index: int, seed: int = DEFAULT_SEED, size: int = IMAGE_SIZE
) -> str:
    """The fabric pattern of the image `generate_image` draws for the same arguments.

    One of `FABRIC_PATTERNS`: a second label for every image, which lesson 11
    trains a new head on.
    """
    rng = image_rng(label, split, index, seed)
    return _garment_and_fabric(Dice(rng, split == "samples"), label, size)[3]


def image_name(label: str, index: int) -> str:
    """File name of image `index` of class `label`, e.g. ``pants-0007.jpg``."""
    return f"{label}-{index:04d}.jpg"


def save_jpeg(image: Image.Image, path: Path) -> None:
    """Save `image` as a JPEG at the dataset's quality, so every image is encoded alike."""
    image.save(path, "JPEG", quality=JPEG_QUALITY)


def _write_image(task: tuple[str, str, str, int, int, int]) -> None:
    out_dir, split, label, index, seed, size = task
    path = Path(out_dir) / split / label / image_name(label, index)
    save_jpeg(generate_image(label, split, index, seed, size), path)


def _check_counts(counts: Mapping[str, int]) -> dict[str, int]:
    unknown = set(counts) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split(s) {', '.join(sorted(unknown))}; expected {SPLITS}")
    for split, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count for {split!r} must be a non-negative integer, got {count!r}")
    return {split: counts[split] for split in SPLITS if split in counts}


def _read_manifest(out_dir: Path) -> dict | None:
    try:
        return json.loads((out_dir / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None


def _is_complete(out_dir: Path, manifest: dict) -> bool:
    if _read_manifest(out_dir) != manifest:
        return False
    return all(
        (out_dir / split / label / image_name(label, i)).is_file()
        for split, count in manifest["counts"].items()
        for label in CLASSES
        for i in range(count)
    )


def _remove_stale_images(out_dir: Path, counts: Mapping[str, int]) -> None:
    """Delete our images beyond the requested counts, left by an earlier, larger run."""
    for split in SPLITS:
        for label in CLASSES:
            folder = out_dir / split / label
            if not folder.is_dir():
                continue
            wanted = {image_name(label, i) for i in range(counts.get(split, 0))}
            for path in sorted(folder.glob(f"{label}-[0-9][0-9][0-9][0-9].jpg")):
                if path.name not in wanted:
                    path.unlink()


def generate_dataset(
    out_dir: str | Path,
    seed: int = DEFAULT_SEED,
    counts: Mapping[str, int] | None = None,
    *,
    size: int = IMAGE_SIZE,
    workers: int | None = None,
    force: bool = False,
) -> Path:
    """Write the dataset as ``out_dir/<split>/<class>/<class>-NNNN.jpg`` and return `out_dir`.

    `counts` maps split names to images per class (default `DEFAULT_COUNTS`);
    splits left out are not generated. Nothing is redrawn when `out_dir`
    already holds a complete dataset with the same parameters, unless `force`.
    `workers` processes draw the images (default: one per CPU, fewer for small
    datasets); the files are byte-identical whatever the number of workers.
    """
    _check_seed(seed)
    counts = _check_counts(DEFAULT_COUNTS if counts is None else counts)
    if size < 32:
        raise ValueError(f"size must be at least 32 pixels, got {size}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir} exists and is not a directory")
    manifest = {
        "generator": "serverless_dl.data.clothing",
        "version": GENERATOR_VERSION,
        "seed": seed,
        "size": size,
        "jpeg_quality": JPEG_QUALITY,
        "classes": list(CLASSES),
        "counts": counts,
    }
    if not force and _is_complete(out_dir, manifest):
        return out_dir
    # The manifest goes last, so an interrupted run never looks complete.
    (out_dir / MANIFEST_NAME).unlink(missing_ok=True)
    _remove_stale_images(out_dir, counts)
    tasks = []
    for split, count in counts.items():
        for label in CLASSES:
            (out_dir / split / label).mkdir(parents=True, exist_ok=True)
            tasks += [(str(out_dir), split, label, i, seed, size) for i in range(count)]
    if workers is None:  # starting a process costs about as much as drawing 50 images
        workers = min(os.cpu_count() or 1, max(1, len(tasks) // 50))
    if workers <= 1:
        for task in tasks:
            _write_image(task)
    else:
        # "spawn" because forking a process that has already imported TensorFlow can hang.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            list(pool.map(_write_image, tasks, chunksize=32))
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    return out_dir


def write_samples(
    out_dir: str | Path,
    labels: Sequence[str] = SAMPLE_LABELS,
    seed: int = DEFAULT_SEED,
    size: int = IMAGE_SIZE,
) -> list[Path]:
    """Write one typical image per label as ``out_dir/<label>.jpg``; return the paths.

    The images come from the "samples" split, so they never appear in the
    training, validation or test data.
    """
    unknown = [label for label in labels if label not in CLASSES]
    if unknown:
        raise ValueError(f"unknown label(s) {', '.join(unknown)}; expected {', '.join(CLASSES)}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir} exists and is not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for label in labels:
        path = out_dir / f"{label}.jpg"
        save_jpeg(generate_image(label, "samples", 0, seed, size), path)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="python -m serverless_dl.data.clothing", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineErrorParser)
    dataset = commands.add_parser("dataset", help="write train/validation/test images")
    dataset.add_argument("out_dir", type=Path)
    dataset.add_argument("--seed", type=whole_number_from_zero, default=DEFAULT_SEED)
    for split in SPLITS:
        dataset.add_argument(
            f"--{split}",
            type=whole_number_from_zero,
            default=DEFAULT_COUNTS[split],
            help=f"images per class (default {DEFAULT_COUNTS[split]})",
        )
    dataset.add_argument("--workers", type=whole_number_from_zero, default=None)
    dataset.add_argument("--force", action="store_true", help="regenerate even if complete")
    samples = commands.add_parser("samples", help="write one typical <label>.jpg per label")
    samples.add_argument("out_dir", type=Path)
    samples.add_argument("--seed", type=whole_number_from_zero, default=DEFAULT_SEED)
    samples.add_argument("--labels", nargs="+", default=list(SAMPLE_LABELS), metavar="LABEL")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "dataset":
            counts = {split: getattr(args, split) for split in SPLITS}
            out = generate_dataset(
                args.out_dir, args.seed, counts, workers=args.workers, force=args.force
            )
            print(f"dataset ready in {out}")
        else:
            for path in write_samples(args.out_dir, args.labels, args.seed):
                print(path)
    except (ValueError, OSError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
