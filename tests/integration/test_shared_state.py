"""Shared state from the command line (in-process, CliRunner) against the real mock, a real PostgreSQL and a
real Redis: fresh CI clones that share one journal, the CI guard, journal and limiter URLs from flags, the
environment and the job file, passwords never printed, unreachable servers stopping the run (exit 4)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from mwsync.mock_server import MockServer
from mwsync.rules import DEMO_CLIENT
from tests.support import job_dict, rows
from tests.support.servers import free_port


def clone(tmp_path: Path, name: str, **overrides) -> Path:
    """A fresh checkout of the same job: its own folder, so its own default state directory."""
    folder = tmp_path / name
    folder.mkdir()
    job = folder / "job.yaml"
    job.write_text(yaml.safe_dump(job_dict(source={"rows": rows(30)}, **overrides), sort_keys=False))
    return job


def test_a_second_ci_run_on_a_fresh_clone_sends_nothing_and_says_why(mwsync, mock, tmp_path, pg_url, monkeypatch):
    monkeypatch.setenv("CI", "true")
    job_a = clone(tmp_path, "a")
    refused = mwsync("run", job_a, "--api-url", mock.url, "--journal", pg_url)
    assert refused.exit_code == 2 and mock.messages() == []  # an empty database: a first send is confirmed once
    assert "has no mwsync journal yet" in refused.output and "--new-journal" in refused.output
    first = mwsync("run", job_a, "--api-url", mock.url, "--journal", pg_url, "--new-journal",
                   "--report", tmp_path / "a.json")
    second = mwsync("run", clone(tmp_path, "b"), "--api-url", mock.url, "--journal", pg_url,
                    "--report", tmp_path / "b.json")
    assert first.exit_code == 0 and "sent 30 messages" in first.output, first.output
    assert second.exit_code == 0 and "nothing new to send (30 of 30 messages already sent)" in second.output
    assert len(mock.messages()) == 30
    report = json.loads((tmp_path / "b.json").read_text())["jobs"][0]
    assert report["journal"] == {"location": pg_url, "shared": True}
    status = mwsync("status", clone(tmp_path, "c"), "--api-url", mock.url, "--journal", pg_url)
    assert f"journal {pg_url}: shared with every runner" in status.output and "messages:   sent 30" in status.output


def test_ci_with_a_new_local_journal_against_a_standalone_server_sends_nothing(mwsync, mock, tmp_path, monkeypatch):
    monkeypatch.setenv("CI", "true")
    job = clone(tmp_path, "a")
    refused = mwsync("run", job, "--api-url", mock.url)
    assert refused.exit_code == 2 and mock.messages() == []
    assert "this runner's journal will not outlive it" in refused.output
    for fix in ("--journal postgresql://", "--state-dir", "--new-journal"):
        assert fix in refused.output
    confirmed = mwsync("run", job, "--api-url", mock.url, "--new-journal")
    assert confirmed.exit_code == 0 and len(mock.messages()) == 30
    again = mwsync("run", job, "--api-url", mock.url)  # the journal exists now (a restored cache, say)
    assert again.exit_code == 0 and "nothing new to send" in again.output


def test_the_ci_guard_leaves_the_embedded_mock_and_dry_runs_alone(mwsync, tmp_path, monkeypatch):
    monkeypatch.setenv("CI", "1")
    assert mwsync("run", clone(tmp_path, "a")).exit_code == 0
    assert mwsync("run", clone(tmp_path, "b"), "--api-url", "http://127.0.0.1:9", "--dry-run").exit_code == 0


def test_a_dry_run_in_ci_creates_no_journal_so_the_guard_still_stops_the_first_send(mwsync, mock, tmp_path,
                                                                                    monkeypatch):
    monkeypatch.setenv("CI", "true")
    job = clone(tmp_path, "a")
    dry = mwsync("run", job, "--api-url", mock.url, "--dry-run", "--report", tmp_path / "dry.json")
    assert dry.exit_code == 0 and "dry run: 30 messages to send" in dry.output, dry.output
    assert not (job.parent / ".mwsync").exists()
    assert json.loads((tmp_path / "dry.json").read_text())["jobs"][0]["journal"]["location"].endswith("(none yet)")
    refused = mwsync("run", job, "--api-url", mock.url)
    assert refused.exit_code == 2 and "will not outlive it" in refused.output and mock.messages() == []


def test_an_empty_database_stays_empty_after_a_dry_run_and_status_in_ci(mwsync, mock, tmp_path, pg_url,
                                                                        monkeypatch):
    from mwsync.journal.postgres import PostgresJournal

    monkeypatch.setenv("CI", "true")
    job = clone(tmp_path, "a")
    assert mwsync("run", job, "--api-url", mock.url, "--journal", pg_url, "--dry-run").exit_code == 0
    status = mwsync("status", job, "--api-url", mock.url, "--journal", pg_url)
    assert status.exit_code == 0 and "no journal yet" in status.output
    assert not PostgresJournal.exists(pg_url)
    refused = mwsync("run", job, "--api-url", mock.url, "--journal", pg_url)
    assert refused.exit_code == 2 and "has no mwsync journal yet" in refused.output and mock.messages() == []


def test_the_job_files_journal_takes_a_password_only_from_the_environment(mwsync, mock, tmp_path, pg_url,
                                                                            monkeypatch):
    with_password = pg_url.replace("mwsync@", "mwsync:${MWSYNC_TEST_PG_PASSWORD}@")
    literal = mwsync("run", clone(tmp_path, "a", journal=pg_url.replace("mwsync@", "mwsync:hunter2@")),
                     "--api-url", mock.url)
    assert literal.exit_code == 2 and "must be exactly one environment reference" in literal.output
    assert "hunter2" not in literal.output
    monkeypatch.setenv("MWSYNC_TEST_PG_PASSWORD", "s3cret-pass")  # trust authentication ignores it
    result = mwsync("run", clone(tmp_path, "b", journal=with_password), "--api-url", mock.url,
                    "--report", tmp_path / "r.json")
    assert result.exit_code == 0 and "sent 30 messages" in result.output, result.output
    report = (tmp_path / "r.json").read_text()
    assert "s3cret-pass" not in report + result.output and json.loads(report)["jobs"][0]["journal"]["shared"]


def test_mwsync_journal_and_mwsync_limiter_come_from_the_environment(mwsync, tmp_path, pg_url, redis_url,
                                                                      monkeypatch):
    monkeypatch.setenv("MWSYNC_JOURNAL", pg_url)
    monkeypatch.setenv("MWSYNC_LIMITER", redis_url)
    with MockServer(rate_limit=(10, 2.0), clients=dict([DEMO_CLIENT])) as server:
        result = mwsync("run", clone(tmp_path, "a"), "--api-url", server.url, "--throttle", "10/2")
        stats = server.stats()
    assert result.exit_code == 0, result.output
    assert stats["status_429"] == 0 and stats["max_requests_in_window"] <= 10 and stats["messages"] == 30


def test_an_unreachable_journal_or_limiter_stops_before_sending(mwsync, mock, tmp_path, pg_url):
    port = free_port()
    journal = mwsync("run", clone(tmp_path, "a"), "--api-url", mock.url,
                     "--journal", f"postgresql://mwsync:pw-secret@127.0.0.1:{port}/x")
    assert journal.exit_code == 4 and f"postgresql://mwsync@127.0.0.1:{port}/x" in journal.output
    assert "connection refused" in journal.output and "pw-secret" not in journal.output
    limiter = mwsync("run", clone(tmp_path, "b"), "--api-url", mock.url, "--journal", pg_url,
                     "--limiter", f"redis://127.0.0.1:{port}/0")
    assert limiter.exit_code == 4 and f"redis://127.0.0.1:{port}/0" in limiter.output
    assert "connection refused" in limiter.output and "never sends unthrottled" in limiter.output
    assert mock.messages() == []


def test_status_and_resolve_on_a_shared_journal(mwsync, tmp_path, pg_url):
    import psycopg

    job = clone(tmp_path, "a")
    with MockServer(rate_limit=(1000, 1.0), clients=dict([DEMO_CLIENT])) as server:
        assert mwsync("run", job, "--api-url", server.url, "--journal", pg_url).exit_code == 0
        with psycopg.connect(pg_url, autocommit=True) as db:  # as if two requests had been in doubt
            db.execute("UPDATE mwsync_deliveries SET state = 'unknown' WHERE key IN ('k-1', 'k-2')")
        status = mwsync("status", job, "--api-url", server.url, "--journal", pg_url)
        assert "in doubt (2)" in status.output and "k-1" in status.output
        resolved = mwsync("resolve", job, "k-1", "--as", "unsent", "--api-url", server.url, "--journal", pg_url)
        assert resolved.exit_code == 0 and "1 message in doubt (1 delivery) released" in resolved.output
        rerun = mwsync("run", job, "--api-url", server.url, "--journal", pg_url)
        assert rerun.exit_code == 3 and "sent 1 message in" in rerun.output  # k-1 again; k-2 still held
        assert len(server.messages()) == 31
