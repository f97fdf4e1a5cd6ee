"""Lesson inputs that may be a local path or a URL.

A learner online can point a lesson at another Keras model or image by URL
through the lesson's parameters; offline (and in tests) the same code runs
against a server on 127.0.0.1. Downloads are cached by URL so re-running a
lesson does not fetch again.
"""

from __future__ import annotations

import hashlib
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

from serverless_dl.base.paths import BUILD, in_repo

DOWNLOADS = BUILD / "downloads"
USER_AGENT = "serverless-dl-course/0.1"
TIMEOUT_SECONDS = 30


class SourceError(ValueError):
    """A path or URL given as a lesson parameter cannot be used."""


def is_url(value: str) -> bool:
    """True for http(s) URLs, False for anything else (taken as a path)."""
    return urllib.parse.urlsplit(str(value)).scheme in ("http", "https")


def local_copy(source: str | Path, cache_dir: Path = DOWNLOADS) -> Path:
    """Return a local file for `source`: the path itself, or a cached download of the URL.

    Relative paths are taken from the repository root. The cached file keeps
    the URL's file name (its suffix matters to Keras) under a folder named
    after a hash of the URL, so two URLs never collide.
    """
    source = str(source)
    if not is_url(source):
        path = in_repo(source)
        if not path.is_file():
            raise SourceError(f"{source} is neither an http(s) URL nor an existing file")
        return path
    name = Path(urllib.parse.urlsplit(source).path).name or "download"
    target = cache_dir / hashlib.sha256(source.encode()).hexdigest()[:16] / name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(source, headers={"User-Agent": USER_AGENT})
    partial = target.with_suffix(target.suffix + ".part")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            with partial.open("wb") as out:
                shutil.copyfileobj(response, out)
    except OSError as error:  # URLError, HTTPError and timeouts are all OSErrors
        partial.unlink(missing_ok=True)
        raise SourceError(f"could not download {source}: {error}") from None
    partial.rename(target)  # only complete downloads ever reach the cache
    return target
