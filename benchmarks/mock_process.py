"""The mock server in its own process (`python -m mock_server`), so its work never shares our GIL: a handle
with the inspection documents the benchmark reads (docs/mock-server.md: `/_mock/stats`, `/_mock/messages`,
`/_mock/requests`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 30.0


class MockProcess:
    """`with MockProcess("50/2", latency_ms=200) as server:` runs the mock on a free port; `server.url`.

    `rate_limit`: the server's `N/S` sliding-window limit; `latency_ms`: added to every send.
    Raises `RuntimeError` when the server does not announce its URL.
    """

    def __init__(self, rate_limit: str, latency_ms: float = 0.0):
        self.command = [sys.executable, "-m", "mock_server", "--port", "0", "--rate-limit", rate_limit,
                        "--latency-ms", f"{latency_ms:g}"]
        self.url = ""
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> MockProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self._proc = subprocess.Popen(self.command, cwd=REPO, stdout=subprocess.PIPE, text=True, env=env)
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

    def _get(self, path: str) -> dict:
        response = requests.get(f"{self.url}/_mock/{path}", timeout=TIMEOUT_S)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict:
        """`/_mock/stats`: requests, by_status, status_429, max_requests_in_window, ..."""
        return self._get("stats")

    def messages(self) -> list[dict]:
        """`/_mock/messages`: every accepted send (event_id, message, recipients, context), arrival order."""
        return self._get("messages")["messages"]

    def arrivals_s(self, admitted_only: bool = True) -> list[float]:
        """Arrival times (epoch seconds, ms resolution) of the API requests in the server's request log
        (the last 1,000): each entry's completion time `at` minus its `duration_ms`, sorted."""
        entries = self._get("requests")["requests"]
        return sorted(_epoch_s(e["at"]) - e["duration_ms"] / 1000.0 for e in entries
                      if not admitted_only or e["status"] != 429)

    def log_complete(self) -> bool:
        """True when the request log still holds every API request the server counted."""
        return len(self._get("requests")["requests"]) >= self.stats()["requests"]


def _epoch_s(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
