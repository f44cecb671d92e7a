"""Ctrl-C in the middle of `mwsync run` (a real process, SIGINT): a clean stop, nothing lost, and a re-run
that sends exactly the rest. `kill -9`: test_crash.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

from mwsync.mock_server import MockServer
from mwsync.rules import DEMO_CLIENT
from tests.support import CLIENT_ENV, job_dict


def default_sigint() -> None:
    """In the child: SIGINT as a terminal delivers it. A shell running the tests in the background starts them
    with SIGINT ignored, and mwsync (like any program) leaves an ignored signal ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_cleanly_and_a_rerun_finishes(write_job, tmp_path):
    rows = [{"id": str(i), "name": f"U{i}", "email": f"u{i}@example.com"} for i in range(80)]
    job = write_job(job_dict(source={"rows": rows}))
    env = dict(os.environ, **CLIENT_ENV)
    with MockServer(rate_limit=(20, 1.0), clients=dict([DEMO_CLIENT])) as server:
        args = [sys.executable, "-m", "mwsync", "run", str(job), "--api-url", server.url,
                "--journal", str(tmp_path / "j.sqlite"), "--throttle", "20/1"]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                preexec_fn=default_sigint)
        deadline = time.monotonic() + 30
        while len(server.messages()) < 25 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=20)
        assert proc.returncode == 4 and "STOPPED: interrupted" in output, output
        assert "unknown 0" in output  # in-flight requests finished and were journalled
        at_stop = len(server.messages())
        assert at_stop < 80
        rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        received = Counter(m["recipients"][0] for m in server.messages())
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"sent {80 - at_stop} messages" in rerun.stdout
    assert len(received) == 80 and max(received.values()) == 1


def test_ctrl_c_during_a_long_429_wait_exits_at_once_and_loses_nothing(write_job, tmp_path):
    rows = [{"id": str(i), "name": f"U{i}", "email": f"u{i}@example.com"} for i in range(5)]
    job = write_job(job_dict(source={"rows": rows}))
    env = dict(os.environ, **CLIENT_ENV)
    with MockServer(clients=dict([DEMO_CLIENT])) as server:
        server.inject(force_429_next=1, force_429_retry_after_s=30)
        args = [sys.executable, "-m", "mwsync", "run", str(job), "--api-url", server.url,
                "--journal", str(tmp_path / "j.sqlite"), "--throttle", "100/1"]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                preexec_fn=default_sigint)
        deadline = time.monotonic() + 20
        while server.stats()["status_429"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        interrupted_at = time.monotonic()
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=20)
        assert time.monotonic() - interrupted_at < 5, "Ctrl-C waited out the 30 s Retry-After"
        assert "STOPPED: interrupted" in output and "unknown 0" in output, output
        rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        received = Counter(m["recipients"][0] for m in server.messages())
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert len(received) == 5 and max(received.values()) == 1
