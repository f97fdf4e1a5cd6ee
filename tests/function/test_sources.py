"""Lesson inputs given as paths or URLs; downloads only ever touch 127.0.0.1 here."""

import pytest

from serverless_dl.base.paths import IMAGES, MODELS
from serverless_dl.function.imageserver import serve_directory
from serverless_dl.function.sources import SourceError, is_url, local_copy


def test_paths_are_taken_from_the_repository_root():
    assert local_copy("images/pants.jpg") == IMAGES / "pants.jpg"
    assert not is_url("images/pants.jpg") and is_url("https://example.com/x.jpg")


def test_a_missing_path_is_a_clear_error():
    with pytest.raises(SourceError, match="neither an http"):
        local_copy("images/no-such-file.jpg")


def test_a_url_is_downloaded_once_and_cached(tmp_path):
    with serve_directory(IMAGES) as base_url:
        first = local_copy(f"{base_url}/pants.jpg", cache_dir=tmp_path)
    # The server is gone now: the second call must come from the cache.
    second = local_copy(f"{base_url}/pants.jpg", cache_dir=tmp_path)
    assert first == second and first.read_bytes() == (IMAGES / "pants.jpg").read_bytes()


def test_a_failed_download_leaves_nothing_behind(tmp_path):
    with serve_directory(IMAGES) as base_url, pytest.raises(SourceError, match="404"):
        local_copy(f"{base_url}/missing.jpg", cache_dir=tmp_path)
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]


def test_a_keras_model_given_by_url_loads(tmp_path):
    keras = pytest.importorskip("keras")
    with serve_directory(MODELS) as base_url:
        path = local_copy(f"{base_url}/clothing-model.keras", cache_dir=tmp_path)
    model = keras.models.load_model(path)
    assert model.output_shape == (None, 10)
