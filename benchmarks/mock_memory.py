"""Bounded memory and a responsive `/_mock/messages` under load (issue 13's figures).

Starts `python -m mwsync.mock_server --no-rate-limit --keep-messages N` in its own process, then drives
`--sends` validated sends (each unique, 3 recipients out of 1,000 people) from `--processes` load processes
with keep-alive `http.client` connections. Meanwhile the main process reads `GET /_mock/messages?limit=1000`
over and over and times each answer. Prints the server's RSS (psutil) before any send and after the last,
its growth, the page latency (p50 / max, ms) while sends continued, sends/s and the final stats.

Usage: python benchmarks/mock_memory.py [--sends 40000] [--keep-messages 1000] [--processes 2] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil

REPO = Path(__file__).resolve().parents[1]
EVENT_ID = "5c1d6f0e-6a8b-4c53-9a51-0f7b8e4a2d11"
TOKEN_BODY = "client_id=mwsync-demo&client_secret=mwsync-demo-secret&grant_type=client_credentials"
MB = 1024 * 1024


def start_server(keep_messages: int) -> tuple[subprocess.Popen, str]:
    """The mock in a subprocess, no rate limit, `keep_messages` bodies kept; returns (process, base URL)."""
    proc = subprocess.Popen([sys.executable, "-m", "mwsync.mock_server", "--port", "0", "--no-rate-limit",
                             "--keep-messages", str(keep_messages)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    match = re.search(r"http://\S+", proc.stdout.readline())
    if not match:
        proc.kill()
        raise SystemExit("mock server did not start")
    return proc, match.group(0)


def _connection(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)


def _call(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None, headers: dict,
          close: bool = False) -> tuple[int, bytes]:
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    answer = response.status, response.read()
    if close:
        conn.close()
    return answer


def get_token(url: str) -> str:
    status, raw = _call(_connection(url), "POST", "/oauth/v1/token", TOKEN_BODY.encode(),
                        {"Content-Type": "application/x-www-form-urlencoded"}, close=True)
    return json.loads(raw)["access_token"]


def _sender(url: str, token: str, first: int, count: int, out: multiprocessing.Queue) -> None:
    """Send `count` unique messages (ids from `first`) over one keep-alive connection; puts the error count."""
    conn, errors = _connection(url), 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for n in range(first, first + count):
        doc = {"message": f"<b>Reminder {n}</b>: your laptop refresh is due. :calendar:",
               "recipients": [f"user{(n + k) % 1000}@example.com" for k in range(3)],
               "context": {"slots": {"first_name": "Ada", "run_id": str(n)}}}
        status, _ = _call(conn, "POST", f"/rest/v1/events/{EVENT_ID}/messages/send", json.dumps(doc).encode(), headers)
        errors += status != 200
    conn.close()
    out.put(errors)


def run(sends: int, keep_messages: int, processes: int) -> dict:
    """Drive the load and return the figures (see module docstring)."""
    proc, url = start_server(keep_messages)
    try:
        server, token = psutil.Process(proc.pid), get_token(url)
        time.sleep(0.5)
        rss_before = server.memory_info().rss
        queue: multiprocessing.Queue = multiprocessing.Queue()
        share = sends // processes
        workers = [multiprocessing.Process(target=_sender, args=(url, token, i * share, share, queue))
                   for i in range(processes)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        page_ms = _read_pages_while(url, workers)
        errors = sum(queue.get() for _ in workers)
        for worker in workers:
            worker.join()
        wall_s = time.perf_counter() - started
        rss_after = server.memory_info().rss
        stats = json.loads(_call(_connection(url), "GET", "/_mock/stats", None, {}, close=True)[1])
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        proc.stdout.close()
    return {"sends": share * processes, "errors": errors, "keep_messages": keep_messages,
            "rss_before_mb": round(rss_before / MB, 1), "rss_after_mb": round(rss_after / MB, 1),
            "rss_growth_mb": round((rss_after - rss_before) / MB, 1), "sends_per_s": round(share * processes / wall_s),
            "page_reads": len(page_ms), "page_p50_ms": round(statistics.median(page_ms), 1) if page_ms else None,
            "page_max_ms": round(max(page_ms), 1) if page_ms else None, "messages": stats["messages"],
            "messages_kept": stats["messages_kept"], "duplicate_deliveries": stats["duplicate_deliveries"]}  # fmt: skip


def _read_pages_while(url: str, workers: list) -> list[float]:
    """Time `GET /_mock/messages?limit=1000` (ms) until every worker has finished."""
    conn, timings = _connection(url), []
    while any(worker.is_alive() for worker in workers):
        started = time.perf_counter()
        status, _ = _call(conn, "GET", "/_mock/messages?limit=1000", None, {})
        timings.append((time.perf_counter() - started) * 1000.0)
        time.sleep(0.05)
    conn.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sends", type=int, default=40_000)
    parser.add_argument("--keep-messages", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of text")
    args = parser.parse_args()
    figures = run(args.sends, args.keep_messages, args.processes)
    if args.json:
        print(json.dumps(figures))
        return
    for name, value in figures.items():
        print(f"{name:>22}: {value}")


if __name__ == "__main__":
    main()
