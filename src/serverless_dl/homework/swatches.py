"""Fabric swatches, striped or dotted: the homework's synthetic images.

The homework model is not the lesson model: it answers one yes-or-no question
("is this swatch dotted?") about pictures of fabric, not garments. Each
swatch is a piece of striped or dotted cloth with pinked (zigzag) edges, laid
at an angle on a background, then given the camera-like exposure, noise and
blur of the clothing images. Fabrics, backgrounds and finishing come from
`serverless_dl.data.clothing`, so both datasets share one drawing code.

Every image has its own random generator, seeded from (seed, split, label,
index), so the same arguments give byte-identical JPEG files on any machine
with the same Pillow and NumPy.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# The drawing primitives of the clothing dataset; the homework only adds the swatch shape.
from serverless_dl.data.clothing import (
    Dice,
    draw_background,
    fabric_texture,
    finish_photo,
    garment_colour,
    to_uint8_image,
)

# Index = the model's target: its sigmoid output is the probability of "dots".
LABELS = ("stripes", "dots")
POSITIVE_LABEL = LABELS[1]
IMAGE_SIZE = 200  # larger than the model input, so a learner's resize step matters
JPEG_QUALITY = 90
DEFAULT_SEED = 7
POOL_SIZE = 24  # images the homework asks about (homework/images/)

_SPLIT_IDS = {"train": 0, "validation": 1, "test": 2, "pool": 3}


def swatch_rng(label: str, split: str, index: int, seed: int = DEFAULT_SEED) -> np.random.Generator:
    """The random generator of one swatch, derived from (seed, split, label, index) only."""
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}; expected one of {', '.join(LABELS)}")
    if split not in _SPLIT_IDS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(_SPLIT_IDS)}")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise ValueError(f"index must be a non-negative integer, got {index!r}")
    # 1000 + ...: never the same seed sequence as a clothing image.
    return np.random.default_rng([1000 + seed, _SPLIT_IDS[split], LABELS.index(label), index])


def _pinked_outline(r: Dice, size: int) -> list[tuple[float, float]]:
    """Outline of a rotated rectangle whose edges zigzag like cloth cut with pinking shears."""
    half_w, half_h = size * r.uniform(0.27, 0.4), size * r.uniform(0.27, 0.4)
    centre_x = size / 2 + size * 0.06 * r.uniform(-1, 1)
    centre_y = size / 2 + size * 0.06 * r.uniform(-1, 1)
    angle = math.radians(r.uniform(-35, 35))
    tooth = size * r.uniform(0.015, 0.03)
    corners = [(-half_w, -half_h), (half_w, -half_h), (half_w, half_h), (-half_w, half_h)]
    points = []
    for (x0, y0), (x1, y1) in zip(corners, corners[1:] + corners[:1], strict=True):
        length = math.hypot(x1 - x0, y1 - y0)
        teeth = max(int(length / (2 * tooth)), 1)
        out_x, out_y = (y1 - y0) / length, -(x1 - x0) / length  # the edge's outward normal
        for k in range(2 * teeth):
            t, reach = k / (2 * teeth), (tooth if k % 2 else 0.0)
            points.append((x0 + (x1 - x0) * t + out_x * reach, y0 + (y1 - y0) * t + out_y * reach))
    cos, sin = math.cos(angle), math.sin(angle)
    return [(centre_x + x * cos - y * sin, centre_y + x * sin + y * cos) for x, y in points]


def _shadow(r: Dice, mask: Image.Image) -> Image.Image:
    """How much to darken the background: the swatch's shape, offset and blurred."""
    offset = round(mask.width * r.uniform(0.0, 0.03))
    shadow = Image.new("L", mask.size, 0)
    shadow.paste(mask, (offset, offset))
    opacity = r.uniform(0.2, 0.45)
    blurred = shadow.filter(ImageFilter.GaussianBlur(mask.width * 0.02))
    return blurred.point([round(v * opacity) for v in range(256)])


def draw_swatch(label: str, rng: np.random.Generator, size: int = IMAGE_SIZE) -> Image.Image:
    """Draw one swatch of `label` ("stripes" or "dots") as an RGB image of `size` x `size`."""
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}; expected one of {', '.join(LABELS)}")
    r = Dice(rng)
    background = draw_background(r, size)
    base = garment_colour(r, background.reshape(-1, 3).mean(axis=0))
    second = garment_colour(r, base)
    fabric = to_uint8_image(fabric_texture(r, size, label, base, second))
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).polygon(_pinked_outline(r, size), fill=255)
    dark = Image.new("RGB", (size, size), (20, 20, 20))
    canvas = Image.composite(dark, to_uint8_image(background), _shadow(r, mask))
    canvas.paste(fabric, (0, 0), mask)
    return finish_photo(r, canvas)


def generate_swatch(label: str, split: str, index: int, seed: int = DEFAULT_SEED) -> Image.Image:
    """Swatch number `index` of `label` in `split`; the same arguments give the same image."""
    return draw_swatch(label, swatch_rng(label, split, index, seed))


def jpeg_bytes(image: Image.Image) -> bytes:
    """The image as the JPEG file the homework stores and serves."""
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def pool_entries(seed: int = DEFAULT_SEED) -> list[tuple[str, str, int]]:
    """(file name, label, index) of every pool image: swatch-01.jpg ... swatch-24.jpg.

    Labels alternate in a fixed, shuffled order, so a file's number says nothing about it.
    """
    order = np.random.default_rng([2000 + seed]).permutation(POOL_SIZE)
    entries = []
    for number, slot in enumerate(order.tolist(), start=1):
        label = LABELS[slot % 2]
        entries.append((f"swatch-{number:02d}.jpg", label, slot // 2))
    return entries


def pool_files(seed: int = DEFAULT_SEED) -> Iterator[tuple[str, bytes]]:
    """(file name, JPEG bytes) of every pool image, drawn from the "pool" split."""
    for name, label, index in pool_entries(seed):
        yield name, jpeg_bytes(generate_swatch(label, "pool", index, seed))


def write_pool(out_dir: str | Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write the pool images into `out_dir`; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in pool_files(seed):
        (out_dir / name).write_bytes(data)
        paths.append(out_dir / name)
    return paths
