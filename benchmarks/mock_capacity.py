"""Measure how many validated send requests per second the mock server sustains.

Starts `python -m mwsync.mock_server` in its own process (rate limit out of the way), gets a token, then drives
`POST /rest/v1/events/{id}/messages/send` with keep-alive clients for `--duration-s` seconds and prints
requests/s, p50/p99 latency (ms), errors, and the server process's CPU (psutil).

Load clients (`--client`):
  http      worker processes x threads, each with one persistent `http.client` connection (default; light
            enough that the server, not the client, is what is measured on a small machine)
  requests  the same with a `requests.Session` per thread (what the runner uses; heavier per request)
  wrk       `wrk` with a Lua script, when it is on PATH (`apt-get install wrk`); no latency histogram here

Usage: python benchmarks/mock_capacity.py [--duration-s 10] [--processes 2] [--threads 4] [--client http]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import requests

from mwsync.rules import DEMO_CLIENT

REPO = Path(__file__).resolve().parents[1]
EVENT_ID = "5c1d6f0e-6a8b-4c53-9a51-0f7b8e4a2d11"
TOKEN_FORM = {"client_id": DEMO_CLIENT[0], "client_secret": DEMO_CLIENT[1], "grant_type": "client_credentials"}


def send_body(recipients: int) -> bytes:
    """A realistic send: `recipients` addresses, ~200 characters of markup, two slots."""
    doc = {
        "message": "<b>Reminder</b>: your laptop refresh is due. "
                   "<a href='https://it.example.com/r'>Book a slot</a>. " * 2,
        "recipients": [f"user{n}@example.com" for n in range(recipients)],
        "context": {"slots": {"first_name": "Ada", "due_date": "2025-03-01"}},
    }
    return json.dumps(doc).encode()


def start_server(loop: str) -> tuple[subprocess.Popen, str]:
    """Run the mock in a subprocess with no rate limit (default --keep-messages); returns (process, base URL)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mwsync.mock_server", "--port", "0", "--no-rate-limit", "--loop", loop],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    line = proc.stdout.readline()
    match = re.search(r"http://\S+", line)
    if not match:
        proc.kill()
        raise SystemExit(f"mock server did not start: {line!r}")
    return proc, match.group(0)


def _worker(url: str, token: str, body: bytes, threads: int, client: str, stop_at: float,
            out: multiprocessing.Queue) -> None:
    """One load process: `threads` keep-alive clients until `stop_at` (time.time); puts (latencies_ms, errors)."""
    import threading

    results: list[tuple[list[float], int]] = []

    drive = _drive_http if client == "http" else _drive_requests

    def run() -> None:
        results.append(drive(url, token, body, stop_at))

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    out.put(([ms for lat, _ in results for ms in lat], sum(err for _, err in results)))


def _drive_http(url: str, token: str, body: bytes, stop_at: float) -> tuple[list[float], int]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    path, latencies_ms, errors = f"/rest/v1/events/{EVENT_ID}/messages/send", [], 0
    while time.time() < stop_at:
        started = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies_ms.append((time.perf_counter() - started) * 1000.0)
        errors += response.status != 200
    conn.close()
    return latencies_ms, errors


def _drive_requests(url: str, token: str, body: bytes, stop_at: float) -> tuple[list[float], int]:
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    target, latencies_ms, errors = f"{url}/rest/v1/events/{EVENT_ID}/messages/send", [], 0
    while time.time() < stop_at:
        started = time.perf_counter()
        response = session.post(target, data=body, headers=headers)
        latencies_ms.append((time.perf_counter() - started) * 1000.0)
        errors += response.status_code != 200
    return latencies_ms, errors


def run_python_load(url: str, token: str, args: argparse.Namespace) -> dict:
    """Fork the load processes, wait, and merge their latencies."""
    body = send_body(args.recipients)
    stop_at = time.time() + args.duration_s
    queue: multiprocessing.Queue = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=_worker, args=(url, token, body, args.threads, args.client, stop_at, queue))
        for _ in range(args.processes)
    ]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    latencies_ms = sorted(ms for lat, _ in results for ms in lat)
    return {"requests": len(latencies_ms), "errors": sum(err for _, err in results), "latencies_ms": latencies_ms}


WRK_LUA = """wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
"""


def run_wrk(url: str, token: str, args: argparse.Namespace) -> dict:
    """Drive the server with wrk (C, keep-alive); returns requests and wrk's own p50/p99."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_LUA.format(body=json.dumps(send_body(args.recipients).decode()), token=token))
    command = ["wrk", "-t", str(args.processes), "-c", str(args.processes * args.threads), "-d",
               f"{args.duration_s:g}s", "--latency", "-s", script.name,
               f"{url}/rest/v1/events/{EVENT_ID}/messages/send"]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    total = int(re.search(r"(\d+) requests in", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    percentiles = {p: _wrk_ms(re.search(rf"\s{p}%\s+([\d.]+\w+)", output).group(1)) for p in ("50", "99")}
    return {"requests": total, "errors": int(non_2xx.group(1)) if non_2xx else 0, "wrk_percentiles_ms": percentiles}


def _wrk_ms(text: str) -> float:
    value, unit = float(re.match(r"[\d.]+", text).group(0)), re.sub(r"[\d.]+", "", text)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--processes", type=int, default=2, help="load processes (wrk: threads)")
    parser.add_argument("--threads", type=int, default=4, help="keep-alive clients per process")
    parser.add_argument("--recipients", type=int, default=3, help="recipients per send")
    parser.add_argument("--client", choices=("http", "requests", "wrk", "auto"), default="auto")
    parser.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto", help="server event loop")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of text")
    args = parser.parse_args()
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "http"
    server, url = start_server(args.loop)
    try:
        token = requests.post(f"{url}/oauth/v1/token", data=TOKEN_FORM, timeout=10).json()["access_token"]
        server_ps = psutil.Process(server.pid)
        cpu_before, wall_before = server_ps.cpu_times(), time.perf_counter()
        result = run_wrk(url, token, args) if args.client == "wrk" else run_python_load(url, token, args)
        cpu_after, wall_s = server_ps.cpu_times(), time.perf_counter() - wall_before
        stats = requests.get(f"{url}/_mock/stats", timeout=10).json()
    finally:
        server.terminate()
        server.wait(timeout=15)
    report(args, result, wall_s, cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system, stats)


def report(args: argparse.Namespace, result: dict, wall_s: float, server_cpu_s: float, stats: dict) -> None:
    """Print the figures (text or one JSON line)."""
    latencies = result.get("latencies_ms")
    if latencies:
        p50, p99 = statistics.median(latencies), latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    else:
        p50, p99 = result["wrk_percentiles_ms"]["50"], result["wrk_percentiles_ms"]["99"]
    figures = {
        "client": args.client, "loop": args.loop, "connections": args.processes * args.threads,
        "recipients": args.recipients,
        "requests": result["requests"], "errors": result["errors"], "wall_s": round(wall_s, 2),
        "requests_per_s": round(result["requests"] / wall_s, 1), "p50_ms": round(p50, 2), "p99_ms": round(p99, 2),
        "server_cpu_percent": round(100.0 * server_cpu_s / wall_s, 1), "server_counted": stats["requests"] - 1,
        "cpus": psutil.cpu_count(),
    }  # fmt: skip
    if args.json:
        print(json.dumps(figures))
        return
    for name, value in figures.items():
        print(f"{name:>20}: {value}")


if __name__ == "__main__":
    main()
