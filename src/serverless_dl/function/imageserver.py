"""A small web server on 127.0.0.1 for tests and lessons.

The handler downloads images from URLs. Offline, and in tests, those URLs point
at this server instead of the internet, so all traffic stays on loopback.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path


class _QuietFileHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without printing a line per request."""

    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass


@contextlib.contextmanager
def serve(handler_class, port: int = 0) -> Iterator[str]:
    """Run `handler_class` on 127.0.0.1:`port` (0: a free port); yield the base URL.

    `handler_class` is a `BaseHTTPRequestHandler` class, or a factory of one
    (`functools.partial` with its arguments). Threaded, so a slow response does
    not block other requests.
    """
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler_class)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def serve_directory(directory: str | Path) -> Iterator[str]:
    """Serve the files of `directory` on 127.0.0.1; yield the base URL (no trailing slash)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory} is not a folder")
    handler = functools.partial(_QuietFileHandler, directory=str(directory))
    with serve(handler) as base_url:
        yield base_url
