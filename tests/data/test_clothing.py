"""Tests of the synthetic clothing dataset generator (fast: no TensorFlow)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from serverless_dl.data import clothing
from serverless_dl.data.clothing import (
    CLASSES,
    MANIFEST_NAME,
    SPLITS,
    draw_garment,
    generate_dataset,
    generate_image,
    main,
    write_samples,
)

SMALL = {"train": 2, "validation": 1, "test": 1}
SRC = Path(clothing.__file__).resolve().parents[1]


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under `root`, by relative path."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def run_module(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, "-m", "serverless_dl.data.clothing", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("data"), seed=3, counts=SMALL, workers=1)


def test_classes_are_the_course_classes_in_order():
    assert CLASSES == (
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


def test_layout_counts_and_manifest(small_dataset):
    for split in SPLITS:
        for label in CLASSES:
            names = sorted(p.name for p in (small_dataset / split / label).iterdir())
            assert names == [f"{label}-{i:04d}.jpg" for i in range(SMALL[split])]
    manifest = json.loads((small_dataset / MANIFEST_NAME).read_text())
    assert manifest["seed"] == 3
    assert manifest["counts"] == SMALL
    with Image.open(small_dataset / "train" / "pants" / "pants-0000.jpg") as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (192, 192))


def test_same_seed_gives_byte_identical_files_with_any_number_of_workers(small_dataset, tmp_path):
    again = generate_dataset(tmp_path / "again", seed=3, counts=SMALL, workers=2)
    assert read_tree(again) == read_tree(small_dataset)


def test_any_single_image_can_be_regenerated_alone(small_dataset, tmp_path):
    path = tmp_path / "alone.jpg"
    clothing.save_jpeg(generate_image("t-shirt", "validation", 0, seed=3), path)
    assert path.read_bytes() == (small_dataset / "validation/t-shirt/t-shirt-0000.jpg").read_bytes()


def test_different_seeds_splits_and_indices_give_different_images():
    def pixels(*args, **kwargs) -> np.ndarray:
        return np.asarray(generate_image(*args, **kwargs, size=64))

    reference = pixels("shirt", "train", 0, seed=1)
    for other in (
        pixels("shirt", "train", 0, seed=2),
        pixels("shirt", "test", 0, seed=1),
        pixels("shirt", "train", 1, seed=1),
        pixels("shirt", "samples", 0, seed=1),
    ):
        assert not np.array_equal(reference, other)


@pytest.mark.parametrize("label", CLASSES)
@pytest.mark.parametrize("typical", [False, True])
def test_every_class_is_drawable(label, typical):
    for seed in range(3):
        image = draw_garment(label, np.random.default_rng(seed), size=96, typical=typical)
        assert (image.mode, image.size) == ("RGB", (96, 96))
        assert np.asarray(image).std() > 10  # something was drawn, not a flat background


def test_complete_dataset_is_not_redrawn(small_dataset, monkeypatch):
    def fail(task):
        raise AssertionError(f"redrew {task}")

    monkeypatch.setattr(clothing, "_write_image", fail)
    assert generate_dataset(small_dataset, seed=3, counts=SMALL, workers=1) == small_dataset


def test_changed_parameters_regenerate_and_drop_stale_images(tmp_path):
    generate_dataset(tmp_path, seed=5, counts={"train": 2}, workers=1)
    generate_dataset(tmp_path, seed=6, counts={"train": 1}, workers=1)
    assert sorted(p.name for p in (tmp_path / "train" / "hat").iterdir()) == ["hat-0000.jpg"]
    assert json.loads((tmp_path / MANIFEST_NAME).read_text())["seed"] == 6
    expected = tmp_path / "expected.jpg"
    clothing.save_jpeg(generate_image("hat", "train", 0, seed=6), expected)
    assert (tmp_path / "train/hat/hat-0000.jpg").read_bytes() == expected.read_bytes()


def test_samples_are_typical_images_outside_the_dataset(small_dataset, tmp_path):
    paths = write_samples(tmp_path, labels=("pants", "hat"), seed=3)
    assert paths == [tmp_path / "pants.jpg", tmp_path / "hat.jpg"]
    assert paths[0].read_bytes() != (small_dataset / "train/pants/pants-0000.jpg").read_bytes()
    with Image.open(paths[0]) as image:
        assert image.size == (192, 192)


@pytest.mark.parametrize(
    "call",
    [
        lambda tmp: generate_image("socks", "train", 0),
        lambda tmp: generate_image("hat", "holdout", 0),
        lambda tmp: generate_dataset(tmp, seed=-1),
        lambda tmp: generate_dataset(tmp, counts={"train": -2}),
        lambda tmp: generate_dataset(tmp, counts={"training": 2}),
        lambda tmp: write_samples(tmp, labels=("socks",)),
    ],
)
def test_bad_arguments_raise_value_error(call, tmp_path):
    with pytest.raises(ValueError):
        call(tmp_path)


def test_cli_writes_samples(tmp_path, capsys):
    assert main(["samples", str(tmp_path), "--labels", "shoes", "dress"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dress.jpg", "shoes.jpg"]
    assert capsys.readouterr().out.split() == [
        str(tmp_path / "shoes.jpg"),
        str(tmp_path / "dress.jpg"),
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["dataset"],
        ["dataset", "out", "--seed", "-1"],
        ["dataset", "out", "--train", "many"],
        ["unpack", "out"],
    ],
)
def test_cli_argument_errors_are_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "error:" in err


def test_cli_value_errors_are_one_line(tmp_path, capsys):
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("")
    assert main(["samples", str(tmp_path), "--labels", "socks"]) == 1
    assert main(["dataset", str(not_a_folder), "--train", "1"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all("error:" in line for line in lines)


def test_module_runs_without_tensorflow_and_fails_cleanly():
    result = run_module("samples")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    check = "import sys, serverless_dl.data.clothing; print('tensorflow' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    imported = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, env=env
    )
    assert imported.stdout.strip() == "False"
