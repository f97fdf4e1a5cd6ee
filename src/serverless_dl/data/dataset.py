"""Load the synthetic clothing dataset as arrays, the way the model sees it.

Images are resized with nearest-neighbour interpolation, exactly as
`keras.utils.load_img(path, target_size=...)` and keras-image-helper do, so
training, evaluation and serving all feed the model identical pixels.
Scaling to the model's input range is left to the caller, because that step is
what lessons 00 and 03 teach.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from serverless_dl.base.paths import BUILD, in_repo
from serverless_dl.data.clothing import CLASSES, generate_dataset

DATASET_DIR = BUILD / "clothing-dataset"


def ensure_dataset(dataset_dir: str | Path = DATASET_DIR) -> Path:
    """Generate the dataset into `dataset_dir` unless an identical one is already there."""
    return generate_dataset(in_repo(dataset_dir))


def load_image(path: str | Path, size: int) -> np.ndarray:
    """One image as a `(size, size, 3)` uint8 array, resized like `keras.utils.load_img`."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB").resize((size, size), Image.NEAREST))


def load_split(
    dataset_dir: str | Path, split: str, size: int, per_class: int | None = None
) -> tuple[np.ndarray, np.ndarray, list[Path]]:
    """Images, label indices (into `CLASSES`) and file paths of one split.

    `per_class` keeps only the first N images of each class (short runs).
    """
    root = in_repo(dataset_dir) / split
    if not root.is_dir():
        raise FileNotFoundError(f"{root} does not exist; generate the dataset first")
    paths, labels = [], []
    for index, label in enumerate(CLASSES):
        files = sorted((root / label).glob("*.jpg"))[:per_class]
        paths += files
        labels += [index] * len(files)
    images = np.stack([load_image(path, size) for path in paths])
    return images, np.array(labels, dtype=np.int64), paths
