"""`mwsync run` end to end, in-process with click's CliRunner (the `mwsync` fixture), against the real mock server."""

from __future__ import annotations

import json

import pytest

from mwsync.mock_server import MockServer
from mwsync.rules import DEMO_CLIENT
from tests.support import EVENT_ID, job_dict, rows


def run_args(job, server, tmp_path, *extra):
    return ["run", job, "--api-url", server.url, "--journal", tmp_path / "journal.sqlite", *extra]


def test_sends_each_message_once_and_rerun_sends_nothing(mwsync, write_job, mock, tmp_path):
    job = write_job(job_dict(source={"rows": rows(30)}))
    first = mwsync(*run_args(job, mock, tmp_path, "--report", tmp_path / "r.json", "--junit", tmp_path / "r.xml"))
    assert first.exit_code == 0, first.output
    assert "sent 30 messages" in first.output
    assert sorted(m["recipients"][0] for m in mock.messages()) == sorted(r["email"] for r in rows(30))
    report = json.loads((tmp_path / "r.json").read_text())["jobs"][0]
    assert report["messages"] == {"total": 30, "sent": 30, "skipped": 0, "failed": 0, "unknown": 0, "held": 0,
                                  "changed": 0, "invalid": 0, "filtered": 0, "duplicates": 0,
                                  "elsewhere": 0}
    assert report["requests"] == {"total": 30, "by_status": {"200": 30}}
    assert "<testsuite" in (tmp_path / "r.xml").read_text()
    again = mwsync(*run_args(job, mock, tmp_path))
    assert again.exit_code == 0 and "nothing new to send (30 of 30 messages already sent)" in again.output
    assert len(mock.messages()) == 30


def test_new_rows_only_are_sent_on_rerun(mwsync, write_job, mock, tmp_path):
    mwsync(*run_args(write_job(job_dict(source={"rows": rows(3)})), mock, tmp_path))
    result = mwsync(*run_args(write_job(job_dict(source={"rows": rows(5)})), mock, tmp_path))
    assert "sent 2 messages" in result.output and len(mock.messages()) == 5


def test_profile_matching_a_sliding_server_limit_meets_no_429(mwsync, write_job, tmp_path):
    with MockServer(rate_limit=(10, 2.0), clients=dict([DEMO_CLIENT])) as server:
        job = write_job(job_dict(source={"rows": rows(24)}))
        result = mwsync(*run_args(job, server, tmp_path, "--throttle", "10/2"))
        stats = server.stats()
    assert result.exit_code == 0, result.output
    assert stats["status_429"] == 0 and stats["max_requests_in_window"] <= 10
    assert stats["by_status"] == {"200": 25}  # 24 sends + 1 access token


def test_coalesced_broadcast_uses_fewest_requests(mwsync, write_job, mock, tmp_path):
    job = job_dict(source={"rows": rows(1200)})
    job["message"]["text"] = "Same for everyone"
    result = mwsync(*run_args(write_job(job), mock, tmp_path))
    assert result.exit_code == 0
    assert [len(m["recipients"]) for m in mock.messages()] == [500, 500, 200]


def test_invalid_rows_send_nothing_and_name_the_row(mwsync, write_job, mock, tmp_path):
    data = rows(4)
    data[2]["email"] = "not-an-email"
    job = write_job(job_dict(source={"rows": data}))
    result = mwsync(*run_args(job, mock, tmp_path))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "row 3, message.recipients: 'not-an-email' is not a valid e-mail" in result.output
    assert "nothing was sent" in result.output and mock.messages() == []
    skipped = mwsync(*run_args(job, mock, tmp_path, "--skip-invalid", "--report", tmp_path / "r.json"))
    assert len(mock.messages()) == 3
    report = json.loads((tmp_path / "r.json").read_text())["jobs"][0]
    assert report["messages"]["invalid"] == 1
    assert [(f["state"], f["row"]) for f in report["failures"]] == [("invalid", 3)]
    assert "invalid: row 3: message.recipients" in skipped.output and "invalid 1" in skipped.output
    assert skipped.exit_code == 1  # not everything was sent


def test_problem_headline_counts_every_distinct_problem(mwsync, write_job, mock, tmp_path):
    data = rows(60)
    for i, row in enumerate(data):
        row["email"] = f"broken{i}"
    result = mwsync(*run_args(write_job(job_dict(source={"rows": data})), mock, tmp_path))
    assert result.exit_code == 2 and "60 row problems:" in result.output and "... and 10 more" in result.output
    assert "nothing was sent (60 invalid rows)" in result.output


def test_one_template_error_on_many_rows_is_one_line_with_the_row_count(mwsync, write_job, mock, tmp_path):
    job = job_dict(source={"rows": [dict(r, days="7") for r in rows(316)], "filter": "id | int <= days"})
    result = mwsync(*run_args(write_job(job), mock, tmp_path))
    assert result.exit_code == 2, result.output
    assert "rows 1-316 (316 rows), source.filter: TypeError: '<=' not supported" in result.output
    assert result.output.count("not supported") == 1 and "row problems" not in result.output


def test_undefined_variable_reports_template_and_row(mwsync, write_job, mock, tmp_path):
    job = job_dict()
    job["message"]["text"] = "Hi {{ nmae }}"
    result = mwsync(*run_args(write_job(job), mock, tmp_path))
    assert result.exit_code == 2 and "rows 1-5 (5 rows)" in result.output and "'nmae' is undefined" in result.output


def test_changed_content_is_reported_not_resent(mwsync, write_job, mock, tmp_path):
    job = job_dict(source={"rows": rows(2)})
    mwsync(*run_args(write_job(job), mock, tmp_path))
    job["message"]["text"] = "Changed {{ name }}"
    result = mwsync(*run_args(write_job(job), mock, tmp_path))
    assert result.exit_code == 0 and "2 messages were sent before with different content" in result.output
    assert len(mock.messages()) == 2


def test_permanent_failure_is_reported_and_retried_on_rerun(mwsync, write_job, tmp_path):
    other_event = "11111111-2222-4333-8444-555555555555"
    with MockServer(events=[EVENT_ID], clients=dict([DEMO_CLIENT])) as server:
        job = job_dict()
        job["message"]["event_id"] = "{{ event }}"
        data = rows(3)
        for row in data:
            row["event"] = EVENT_ID
        data[1]["event"] = other_event
        path = write_job(dict(job, source={"rows": data}))
        result = mwsync(*run_args(path, server, tmp_path, "--report", tmp_path / "r.json"))
        assert result.exit_code == 1 and "INVALID_EVENT_ID" in result.output
        failures = json.loads((tmp_path / "r.json").read_text())["jobs"][0]["failures"]
        assert [(f["key"], f["row"], f["status"], f["code"]) for f in failures] == [("k-1", 2, 404, "INVALID_EVENT_ID")]
        data[1]["event"] = EVENT_ID
        rerun = mwsync(*run_args(write_job(dict(job, source={"rows": data})), server, tmp_path))
        assert rerun.exit_code == 0 and "sent 1 message in" in rerun.output
        assert len(server.messages()) == 3


def test_unknown_outcome_is_held_until_resend_unknown(mwsync, write_job, mock, tmp_path):
    job = write_job(job_dict(source={"rows": rows(3)}))
    mock.inject(lose_reply_next=1)
    first = mwsync(*run_args(job, mock, tmp_path))
    assert first.exit_code == 3 and "unknown 1" in first.output
    second = mwsync(*run_args(job, mock, tmp_path))
    assert second.exit_code == 3 and "in doubt" in second.output and len(mock.messages()) == 3
    mwsync(*run_args(job, mock, tmp_path, "--report", tmp_path / "held.json"))
    assert [f["state"] for f in json.loads((tmp_path / "held.json").read_text())["jobs"][0]["failures"]] == ["unknown"]
    third = mwsync(*run_args(job, mock, tmp_path, "--resend-unknown"))
    assert third.exit_code == 0 and len(mock.messages()) == 4  # the user asked for the possible duplicate


def test_dry_run_sends_nothing(mwsync, write_job, mock, tmp_path):
    result = mwsync(*run_args(write_job(job_dict()), mock, tmp_path, "--dry-run"))
    assert result.exit_code == 0 and "dry run: 5 messages to send in 5 requests" in result.output
    assert mock.stats()["requests"] == 0


def test_bad_credentials_stop_the_job_with_exit_4(mwsync, write_job, mock, tmp_path, monkeypatch):
    monkeypatch.setenv("MW_CLIENT_SECRET", "not-the-secret")
    result = mwsync(*run_args(write_job(job_dict()), mock, tmp_path))
    assert result.exit_code == 4 and "STOPPED: authentication failed" in result.output
    assert "not-the-secret" not in result.output and mock.messages() == []


@pytest.mark.parametrize("args,code,fragment", [
    (["run", "missing.yaml"], 2, "missing.yaml: cannot read job file"),
    (["run", "JOB", "--report", "/proc/r.json"], 2, "--report /proc/r.json: cannot write there"),
    (["run", "--profile", "nope", "JOB"], 2, "unknown profile 'nope'"),
    (["run", "--throttle", "5", "JOB"], 2, "CALLS/SECONDS"),
    (["validate", "JOB"], 0, "ok"),
], ids=["missing-file", "unwritable-report", "bad-profile", "bad-throttle", "validate"])
def test_cli_usage_errors(mwsync, write_job, args, code, fragment):
    path = write_job(job_dict())
    result = mwsync(*[str(path) if a == "JOB" else a for a in args])
    assert result.exit_code == code and fragment in result.output and "Traceback" not in result.output


def test_plan_json_shows_both_estimates(mwsync, write_job):
    result = mwsync("plan", "--json", write_job(job_dict()))
    [plan] = json.loads(result.output)["jobs"]
    assert plan["requests"] == 5 and set(plan["estimate_s"]) == {"profile", "moveworks_default_120_per_min"}


def test_status_summarises_the_journal(mwsync, write_job, mock, tmp_path):
    job = write_job(job_dict())
    mwsync(*run_args(job, mock, tmp_path))
    result = mwsync("status", job, "--journal", tmp_path / "journal.sqlite", "--api-url", mock.url)
    assert "messages:   sent 5" in result.output


def test_status_of_a_deleted_journal_says_it_is_gone_not_that_there_is_none_yet(mwsync, write_job, mock, tmp_path):
    job = write_job(job_dict())
    journal = tmp_path / "journal.sqlite"
    assert mwsync(*run_args(job, mock, tmp_path)).exit_code == 0
    journal.unlink()
    result = mwsync("status", job, "--journal", journal, "--api-url", mock.url)
    assert result.exit_code == 4, result.output
    assert "the journal is gone, but a run of job" in result.output and "no journal yet" not in result.output
    assert not journal.exists()  # status recreated nothing: the next run still stops
    assert mwsync(*run_args(job, mock, tmp_path)).exit_code == 4


def test_parallel_jobs_share_one_budget_per_target(mwsync, write_job, tmp_path):
    jobs = []
    for name, profile in (("one", {"limit": 10, "window_s": 1}), ("two", {"limit": 20, "window_s": 1})):
        job = job_dict(name=name, source={"rows": rows(15, start=100 * len(jobs))})
        job["throttle"] = {"profile": "p", "profiles": {"p": profile}, "concurrent_batch_executions": 2,
                           "concurrent_connections": 2}
        jobs.append(write_job(job, name=f"{name}.yaml"))
    with MockServer(rate_limit=(10, 1.0), clients=dict([DEMO_CLIENT])) as server:
        result = mwsync("run", *jobs, "--api-url", server.url, "--state-dir", tmp_path / "state")
        stats = server.stats()
    assert result.exit_code == 0, result.output
    assert len(server.messages()) == 30 and stats["status_429"] == 0
    assert stats["max_requests_in_window"] <= 10  # the strictest profile (10/1) governs both jobs
