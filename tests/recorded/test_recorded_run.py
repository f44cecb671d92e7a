"""A whole `mwsync run` of an example job on tape: jobs/laptop-refresh.yaml, 470 messages coalesced into
6 requests of up to 500 recipients (one per laptop model), one access token, then `--report`.

Recorded against the mock only: against a tenant it would notify the example employees. The job reads its
credentials from `MOVEWORKS_CLIENT_ID` / `MOVEWORKS_CLIENT_SECRET`, set here from the target.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mwsync.cli import cli

JOB = Path(__file__).parents[2] / "jobs" / "laptop-refresh.yaml"

pytestmark = [pytest.mark.vcr, pytest.mark.mock_only]


def test_run_example_job_sends_every_message_once(target, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MOVEWORKS_CLIENT_ID", target.client_id)
    monkeypatch.setenv("MOVEWORKS_CLIENT_SECRET", target.client_secret)
    report = tmp_path / "report.json"

    result = CliRunner().invoke(cli, ["run", str(JOB), "--api-url", target.base_url, "--journal",
                                      str(tmp_path / "journal.sqlite"), "--report", str(report)],
                                catch_exceptions=False)

    assert result.exit_code == 0, result.output
    summary = json.loads(report.read_text("utf-8"))["jobs"][0]
    assert (summary["messages"]["sent"], summary["requests"]["total"], summary["requests"]["by_status"]) == \
        (470, 6, {"200": 6})
