"""Smoke test of the bulk replay benchmark: `benchmarks/bulk.py --quick` runs and writes every figure.

No timing assertions: figures on a shared CI machine are not the benchmark's (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support import REPO


def test_quick_run_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bulk.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bulk.py"), "--quick", "--json", str(out),
         "--data-dir", str(tmp_path / "data")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(out.read_text(encoding="utf-8"))

    for key in ("plan_rows_per_s", "peak_rss_mb", "requests", "rate_ratio", "status_429", "duration_s", "baseline"):
        assert key in figures, key
    assert len(figures["peak_rss_mb"]) == 2
    assert set(figures["requests"]) == {"personalised", "broadcast", "grouped"}
    assert all(set(r) == {"sent", "minimum"} for r in figures["requests"].values())
    assert set(figures["rate_ratio"]) == {"no_latency", "latency_200ms"}
    assert {"status_429", "duration_s", "requests"} <= set(figures["baseline"])
    assert "gain vs baseline" in done.stdout


def test_shared_state_quick_run_writes_every_figure(tmp_path: Path, postgres_server, redis_server) -> None:
    """`benchmarks/shared.py --quick` with two runner counts (it starts its own PostgreSQL and Redis; the
    fixtures only make sure the binaries are there, skipping outside CI without them)."""
    out = tmp_path / "shared.json"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "shared.py"), "--quick", "--runners", "1,2",
                           "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert set(figures["runners"]) == {"1", "2"} and set(figures["claims_per_s"]) == {
        "postgresql", "postgresql_4_threads", "sqlite"}
    for result in figures["runners"].values():
        assert {"elapsed_s", "time_ratio", "rate_ratio", "status_429", "max_requests_in_window", "duplicates",
                "lost", "sent_by"} <= set(result)
        assert result["duplicates"] == result["lost"] == 0
    assert "journal cycle" in done.stdout
