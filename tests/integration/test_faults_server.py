"""Delivery truth against a server that fails after accepting, lies about token lifetimes, echoes secrets or
drips its answer (the mock's fault injection, docs/mock-server.md). Each case is one the faults issue found
broken; assertions are on what the server received and on everything mwsync wrote."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import pytest

from mwsync.mock_server import MockServer
from mwsync.rules import DEMO_CLIENT
from tests.support import job_dict, rows


def run_args(job, server, tmp_path, *extra):
    return ["run", job, "--api-url", server.url, "--journal", tmp_path / "journal.sqlite", *extra]


def journal_states(tmp_path) -> Counter:
    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        return Counter(state for (state,) in db.execute("SELECT state FROM deliveries"))


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_5xx_after_the_api_accepted_is_held_not_retried(mwsync, write_job, tmp_path, status):
    job = write_job(job_dict(source={"rows": rows(3)}))
    with MockServer(clients=dict([DEMO_CLIENT]), faults={"accept_fail_next": 1, "accept_fail_status": status}) as srv:
        first = mwsync(*run_args(job, srv, tmp_path, "--report", tmp_path / "r.json"))
        assert first.exit_code == 3 and "unknown 1" in first.output, first.output
        assert len(srv.messages()) == 3, "the accepted message was not sent again"
        second = mwsync(*run_args(job, srv, tmp_path))
        assert second.exit_code == 3 and "in doubt" in second.output and len(srv.messages()) == 3
    failure = json.loads((tmp_path / "r.json").read_text())["jobs"][0]["failures"][0]
    assert failure["state"] == "unknown" and failure["status"] == status


def test_a_persisting_5xx_delivers_once_per_run_at_most_never_five_times(mwsync, write_job, tmp_path):
    job = write_job(job_dict(source={"rows": rows(2)}))
    with MockServer(clients=dict([DEMO_CLIENT]), faults={"accept_fail_rate": 1.0, "accept_fail_status": 502}) as srv:
        for _ in range(3):
            result = mwsync(*run_args(job, srv, tmp_path))
            assert result.exit_code == 3, result.output
        received = Counter(m["recipients"][0] for m in srv.messages())
    assert received == {"user0@example.com": 1, "user1@example.com": 1}
    assert journal_states(tmp_path) == {"unknown": 2}


def test_resend_on_opts_a_status_back_into_retries(mwsync, write_job, tmp_path):
    job = job_dict(source={"rows": rows(1)}, retry={**job_dict()["retry"], "resend_on": [502]})
    with MockServer(clients=dict([DEMO_CLIENT]), faults={"accept_fail_next": 1, "accept_fail_status": 502}) as srv:
        result = mwsync(*run_args(write_job(job), srv, tmp_path))
        assert result.exit_code == 0 and len(srv.messages()) == 2  # the duplicate the job asked to risk


def test_503_is_retried_and_delivered_once(mwsync, write_job, tmp_path):
    with MockServer(clients=dict([DEMO_CLIENT]), faults={"fail_next": 2, "fail_status": 503}) as srv:
        result = mwsync(*run_args(write_job(job_dict(source={"rows": rows(1)})), srv, tmp_path))
        assert result.exit_code == 0 and len(srv.messages()) == 1, result.output


@pytest.mark.parametrize("raw", ['"soon"', '"0x10"', "[1]", "1e400", "-5"])
def test_an_unusable_expires_in_stops_the_run_and_journals_nothing(mwsync, write_job, tmp_path, raw):
    with MockServer(clients=dict([DEMO_CLIENT]), faults={"token_expires_in_raw": raw}) as srv:
        result = mwsync(*run_args(write_job(job_dict(source={"rows": rows(2)})), srv, tmp_path))
        assert srv.messages() == []
    assert result.exit_code == 4 and "expires_in is" in result.output and "Traceback" not in result.output
    assert sum(journal_states(tmp_path).values()) == 0, "a message never sent is not held as unknown"


def test_a_missing_expires_in_means_60_s(mwsync, write_job, tmp_path):
    with MockServer(clients=dict([DEMO_CLIENT]), faults={"token_omit_expires_in": True}) as srv:
        result = mwsync(*run_args(write_job(job_dict(source={"rows": rows(2)})), srv, tmp_path))
        assert result.exit_code == 0 and len(srv.messages()) == 2, result.output


def all_output(result, tmp_path) -> str:
    written = [p.read_text(errors="replace") for p in tmp_path.iterdir() if p.suffix in (".json", ".xml")]
    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        journal = " ".join(str(r) for r in db.execute("SELECT error_code, error_message FROM deliveries"))
    return result.output + " ".join(written) + journal


def test_a_token_endpoint_echoing_the_client_secret_leaks_it_nowhere(mwsync, write_job, tmp_path, monkeypatch):
    monkeypatch.setenv("MW_CLIENT_SECRET", "wrong-secret-9f8e7d")
    job = write_job(job_dict(source={"rows": rows(2)}))
    with MockServer(clients=dict([DEMO_CLIENT]), faults={"echo_request_in_errors": True}) as srv:
        result = mwsync(*run_args(job, srv, tmp_path, "--report", tmp_path / "r.json", "--junit", tmp_path / "r.xml"))
    assert result.exit_code == 4 and "[request:" in result.output, result.output  # the echo reached us...
    assert "wrong-secret-9f8e7d" not in all_output(result, tmp_path)  # ...and the secret went nowhere


def test_a_send_error_echoing_the_bearer_token_leaks_it_nowhere(mwsync, write_job, tmp_path):
    other = "5c1d6f0e-6a8b-4c53-9a51-0f7b8e4a2d11"  # the job's event is unknown there: 404, echoed
    job = write_job(job_dict(source={"rows": rows(2)}))
    with MockServer(clients=dict([DEMO_CLIENT]), events=[other], faults={"echo_request_in_errors": True}) as srv:
        result = mwsync(*run_args(job, srv, tmp_path, "--report", tmp_path / "r.json", "--junit", tmp_path / "r.xml"))
        tokens = srv.stats()["tokens_issued"]
    assert result.exit_code == 1 and "Authorization: Bearer [redacted]" in all_output(result, tmp_path)
    assert tokens >= 1 and "Bearer mwt" not in all_output(result, tmp_path)


def test_a_reply_dripped_byte_by_byte_is_cut_at_the_deadline_and_held(mwsync, write_job, tmp_path):
    subscription = {**job_dict()["subscription"], "read_timeout_s": 1, "deadline_s": 2}
    job = write_job(job_dict(source={"rows": rows(1)}, subscription=subscription))
    with MockServer(clients=dict([DEMO_CLIENT]), faults={"drip_interval_ms": 300, "drip_on": "send"}) as srv:
        result = mwsync(*run_args(job, srv, tmp_path))
        assert len(srv.messages()) == 1
    assert result.exit_code == 3 and "within the 2 s deadline" in result.output, result.output
    assert journal_states(tmp_path) == {"unknown": 1}


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirected_send_is_not_followed_fails_and_stops_the_run(mwsync, write_job, tmp_path, status):
    """requests follows redirects by default: the POST went again to the Location (a login page would have
    made it `sent`, a 307 loop re-sent it 30 times outside the limiter)."""
    job = write_job(job_dict(source={"rows": rows(3)}))
    with MockServer(clients=dict([DEMO_CLIENT])) as elsewhere:
        rule = {"match": {"endpoint": "send"}, "respond": {"redirect_to": f"{elsewhere.url}/login?token=abc",
                                                           "redirect_status": status}}
        with MockServer(clients=dict([DEMO_CLIENT]), scenario=[rule]) as srv:
            result = mwsync(*run_args(job, srv, tmp_path, "--report", tmp_path / "r.json"))
            sends = [e for e in srv.requests() if e["path"].endswith("/messages/send")]
        assert elsewhere.requests() == []  # nothing followed the redirect
    assert result.exit_code == 4, result.output
    assert f"{status} redirect to {elsewhere.url}/login" in result.output and "token=abc" not in result.output
    assert "every send would be redirected, so the run stops" in result.output
    assert len(sends) == 1  # not retried, and the run stopped before the next message
    assert json.loads((tmp_path / "r.json").read_text())["jobs"][0]["requests"] == {"total": 1,
                                                                                   "by_status": {str(status): 1}}
    assert journal_states(tmp_path) == {"failed": 1}  # not delivered: the next run may send it


def test_a_303_see_other_after_a_send_is_in_doubt(mwsync, write_job, tmp_path):
    job = write_job(job_dict(source={"rows": rows(1)}))
    rule = {"match": {"endpoint": "send"}, "respond": {"redirect_to": "http://127.0.0.1:9/status",
                                                       "redirect_status": 303}}
    with MockServer(clients=dict([DEMO_CLIENT]), scenario=[rule]) as srv:
        result = mwsync(*run_args(job, srv, tmp_path))
    assert result.exit_code == 3 and "See Other" in result.output, result.output
    assert journal_states(tmp_path) == {"unknown": 1}


def test_a_redirected_token_request_never_carries_the_secret_elsewhere(mwsync, write_job, tmp_path):
    job = write_job(job_dict(source={"rows": rows(1)}))
    with MockServer(clients=dict([DEMO_CLIENT])) as elsewhere:
        rule = {"match": {"endpoint": "token"}, "respond": {"redirect_to": f"{elsewhere.url}/oauth/v1/token"}}
        with MockServer(clients=dict([DEMO_CLIENT]), scenario=[rule], log_bodies=True) as srv:
            result = mwsync(*run_args(job, srv, tmp_path))
            assert srv.messages() == []
        assert elsewhere.requests() == []
    assert result.exit_code == 4 and "the token endpoint answered 307 redirect" in result.output, result.output
    assert DEMO_CLIENT[1] not in result.output


@pytest.mark.parametrize("token, why", [("abc\n", "not visible ASCII"), ("中文", "not visible ASCII"),
                                        ("two words", "not visible ASCII"), ("t" * 20_000, "20,000 characters"),
                                        ("t" * 1_100_000, "more than the 1,000,000")])
def test_an_access_token_that_cannot_go_in_a_header_stops_the_run_before_any_send(mwsync, write_job, tmp_path,
                                                                                  token, why):
    """It was a traceback (`Invalid header value b'Bearer abc\\n'`), exit 1, no report, and rows left `unknown`
    although no byte had left."""
    job = write_job(job_dict(source={"rows": rows(2)}))
    with MockServer(clients=dict([DEMO_CLIENT]), faults={"token_access_token": token}) as srv:
        result = mwsync(*run_args(job, srv, tmp_path, "--report", tmp_path / "r.json"))
        assert srv.messages() == []
    assert result.exit_code == 4 and why in result.output, result.output
    assert "Traceback" not in result.output and token not in result.output
    assert journal_states(tmp_path) == Counter()  # nothing began: the next run sends both
    assert json.loads((tmp_path / "r.json").read_text())["exit_code"] == 4


def test_an_error_text_with_control_characters_is_recorded_and_reported_safely(mwsync, write_job, tmp_path):
    """Control characters made the JUnit file unparseable and reached the terminal raw (a lone surrogate,
    which the mock cannot send, is tests/unit/test_journal_faults.py's)."""
    import xml.etree.ElementTree as ET

    job = write_job(job_dict(source={"rows": rows(2)}))
    rule = {"match": {"endpoint": "send", "nth": 1}, "respond": {"status": 400, "code": "BAD",
                                                       "message": "xy \x1b[2J\x00\x07 z"}}
    with MockServer(clients=dict([DEMO_CLIENT]), scenario=[rule]) as srv:
        result = mwsync(*run_args(job, srv, tmp_path, "--report", tmp_path / "r.json",
                                  "--junit", tmp_path / "r.xml"))
    assert result.exit_code == 1 and "failed 1" in result.output, result.output
    assert "\x1b" not in result.output and "\x00" not in result.output and "\\x1b[2J" in result.output
    assert journal_states(tmp_path) == {"failed": 1, "sent": 1}
    ET.parse(tmp_path / "r.xml")  # well-formed
    [failure] = json.loads((tmp_path / "r.json").read_text())["jobs"][0]["failures"]
    assert failure["code"] == "BAD" and "\\x07" in failure["error"] and "\x07" not in failure["error"]
