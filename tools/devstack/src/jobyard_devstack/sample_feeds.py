"""The sample feeds served on loopback by ``make run``, so an import runs with no internet.

Python's file server answers ``If-Modified-Since`` with 304, so the next run of the same
feeds shows a ``not_modified`` import log, as a real feed with Last-Modified would.
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SAMPLES = ("jobicy.xml", "higheredjobs.xml", "atom.xml")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *_: Any) -> None:
        return


class SampleFeeds:
    def __init__(self, folder: Path, port: int) -> None:
        missing = [name for name in SAMPLES if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(f"sample feeds missing in {folder}: {', '.join(missing)}")
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def urls(self) -> list[str]:
        return [f"{self.base_url}/{name}" for name in SAMPLES]

    def start(self) -> SampleFeeds:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
