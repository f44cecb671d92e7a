"""The mock server in its own process (`python -m mwsync.mock_server`), so its work never shares our GIL: a handle
with the inspection documents the benchmark reads (docs/mock-server.md: `/_mock/stats`, `/_mock/messages`,
`/_mock/requests`)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from mwsync.mock_server.remote import MockClient

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 30.0


class MockProcess:
    """`with MockProcess("50/2", latency_ms=200) as server:` runs the mock on a free port; `server.url`.

    `rate_limit`: the server's `N/S` sliding-window limit; `latency_ms`: added to every send.
    Raises `RuntimeError` when the server does not announce its URL.
    """

    def __init__(self, rate_limit: str, latency_ms: float = 0.0):
        self.command = [sys.executable, "-m", "mwsync.mock_server", "--port", "0", "--rate-limit", rate_limit,
                        "--latency-ms", f"{latency_ms:g}"]
        self.url = ""
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> MockProcess:
        self._proc = subprocess.Popen(self.command, cwd=REPO, stdout=subprocess.PIPE, text=True)
        line = self._proc.stdout.readline()
        match = re.search(r"http://\S+", line)
        if not match:
            self.__exit__()
            raise RuntimeError(f"mock server did not start: {line!r}")
        self.url = match.group(0)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc.stdout.close()
            self._proc = None

    @property
    def api(self) -> MockClient:
        """The `/_mock/` client of this server."""
        return MockClient(self.url, timeout_s=TIMEOUT_S)

    def stats(self) -> dict:
        """`/_mock/stats`: requests, by_status, status_429, max_requests_in_window, ..."""
        return self.api.stats()

    def messages(self) -> list[dict]:
        """Every kept accepted send (event_id, message, recipients, context), arrival order: all pages of
        `/_mock/messages` (the server keeps the last 100,000 by default; `stats()["messages"]` counts all)."""
        return self.api.messages()

    def arrivals_s(self, admitted_only: bool = True) -> list[float]:
        """Arrival times of the API requests in the server's request log (the last 1,000), sorted."""
        return self.api.arrivals_s(admitted_only)

    def log_complete(self) -> bool:
        """True when the request log still holds every API request the server counted."""
        return len(self.api.requests()) >= self.stats()["requests"]
