"""SIGTERM (CI cancellation, `timeout`, Kubernetes) and SIGHUP stop `mwsync run` as Ctrl-C does: requests in
flight finish and are journalled, requests waiting for a rate-limit slot never go out and leave no row, the
reports are written, exit 4; the `.sqlite` file alone holds every committed row; a rerun sends exactly the
rest."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter

import pytest

from mwsync.mock_server import MockServer
from mwsync.rules import DEMO_CLIENT
from tests.support import CLIENT_ENV, job_dict, rows


def default_signals() -> None:
    """In the child: SIGINT and SIGHUP as a terminal would deliver them (a shell running tests in the
    background ignores SIGINT, and mwsync leaves an ignored signal ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_stops_the_run_cleanly_and_a_rerun_sends_the_rest(write_job, tmp_path, sig):
    job = write_job(job_dict(source={"rows": rows(60)}))
    journal, report = tmp_path / "j.sqlite", tmp_path / "r.json"
    env = dict(os.environ, **CLIENT_ENV)
    with MockServer(rate_limit=(20, 1.0), clients=dict([DEMO_CLIENT])) as server:
        args = [sys.executable, "-m", "mwsync", "run", str(job), "--api-url", server.url, "--journal", str(journal),
                "--throttle", "10/1"]
        proc = subprocess.Popen(args + ["--report", str(report)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, preexec_fn=default_signals)
        deadline = time.monotonic() + 30
        while len(server.messages()) < 12 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(sig)
        output, _ = proc.communicate(timeout=30)
        assert proc.returncode == 4 and f"STOPPED: interrupted ({sig.name})" in output, output
        document = json.loads(report.read_text())
        assert document["exit_code"] == 4 and document["jobs"][0]["stopped"] == f"interrupted ({sig.name})"
        at_stop = len(server.messages())
        assert at_stop < 60
        assert not (tmp_path / "j.sqlite-wal").exists()
        with sqlite3.connect(journal) as db:  # the .sqlite file alone
            states = Counter(state for (state,) in db.execute("SELECT state FROM deliveries"))
        assert states == {"sent": at_stop}, "waiting requests left no pending or unknown row"
        rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        received = Counter(m["recipients"][0] for m in server.messages())
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"sent {60 - at_stop} messages" in rerun.stdout
    assert len(received) == 60 and max(received.values()) == 1


def test_kill_9_leaves_the_sqlite_file_complete(write_job, tmp_path):
    """Everything committed before the kill is in the .sqlite file alone (a CI cache may keep only that)."""
    job = write_job(job_dict(source={"rows": rows(60)}))
    journal = tmp_path / "j.sqlite"
    env = dict(os.environ, **CLIENT_ENV)
    with MockServer(rate_limit=(20, 1.0), clients=dict([DEMO_CLIENT])) as server:
        proc = subprocess.Popen([sys.executable, "-m", "mwsync", "run", str(job), "--api-url", server.url,
                                 "--journal", str(journal), "--throttle", "10/1"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while len(server.messages()) < 12 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.kill()
        proc.wait(timeout=10)
        received = len(server.messages())
    kept = tmp_path / "cache" / "j.sqlite"
    kept.parent.mkdir()
    kept.write_bytes(journal.read_bytes())
    with sqlite3.connect(kept) as db:
        states = Counter(state for (state,) in db.execute("SELECT state FROM deliveries"))
    assert states["sent"] + states["pending"] >= received >= states["sent"] and received - states["sent"] <= 1
