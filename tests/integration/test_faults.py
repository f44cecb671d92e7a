"""Delivery truth under faults (docs/guarantees.md), end to end in-process against the real mock server:
each case is one of the failures the faults issue found, and each assertion is on what the server received,
the exit code, the report and the output."""

from __future__ import annotations

import json
import os
import socket
import time
import xml.etree.ElementTree as ET

import pytest

from mwsync.mock_server import MockServer
from mwsync.rules import DEMO_CLIENT
from tests.support import EVENT_ID, job_dict, rows


def run_args(job, server_url, tmp_path, *extra):
    return ["run", job, "--api-url", server_url, "--journal", tmp_path / "journal.sqlite", *extra]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_api_stops_the_run_with_one_line_naming_the_host(mwsync, write_job, tmp_path):
    port = free_port()  # nothing listens there: connection refused
    result = mwsync(*run_args(write_job(job_dict(source={"rows": rows(20)})), f"http://127.0.0.1:{port}", tmp_path,
                              "--report", tmp_path / "r.json"))
    assert result.exit_code == 4, result.output
    assert f"API unreachable: cannot connect to 127.0.0.1:{port}: connection refused" in result.output
    assert result.output.count("cannot connect") == 1  # not one line per message
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["exit_code"] == 4 and report["jobs"][0]["messages"]["failed"] == 0  # nothing was sent
    rerun_against_nothing = mwsync("status", write_job(job_dict(source={"rows": rows(20)})), "--journal",
                                   tmp_path / "journal.sqlite")
    assert "deliveries: none" in rerun_against_nothing.output  # no row was left pending or unknown


def test_a_stalled_token_endpoint_stops_the_run_after_bounded_attempts(mwsync, write_job, tmp_path):
    job = job_dict(subscription={**job_dict()["subscription"], "read_timeout_s": 0.3},
                   retry={"max_attempts": 3, "backoff_initial_s": 0.01, "backoff_max_s": 0.02})
    with MockServer(clients=dict([DEMO_CLIENT]), faults={"latency_ms": 2000, "latency_on": "token"}) as server:
        result = mwsync(*run_args(write_job(job), server.url, tmp_path))
        deadline = time.monotonic() + 10  # the server logs each stalled request once its 2 s are over
        while len(token_requests := [r for r in server.requests() if r["path"] == "/oauth/v1/token"]) < 3 \
                and time.monotonic() < deadline:
            time.sleep(0.05)
    assert result.exit_code == 4 and "API unreachable: token request: no complete answer from 127.0.0.1" in \
        result.output, result.output
    assert len(token_requests) == 3  # retry.max_attempts, then the run stops: no attempt per message


def test_an_api_key_pasted_with_its_bearer_prefix_is_sent_once_prefixed(mwsync, write_job, tmp_path, monkeypatch):
    monkeypatch.setenv("MW_API_KEY", "Bearer key-123")
    job = job_dict(subscription={"api_url": "embedded", "api_key": "${MW_API_KEY}"})
    with MockServer(api_keys=["key-123"]) as server:
        result = mwsync(*run_args(write_job(job), server.url, tmp_path))
        assert result.exit_code == 0, result.output
        assert len(server.messages()) == 5


def test_an_unknown_event_is_named_in_the_failure(mwsync, write_job, tmp_path):
    other = "5c1d6f0e-6a8b-4c53-9a51-0f7b8e4a2d11"
    with MockServer(events=[other], clients=dict([DEMO_CLIENT])) as server:
        result = mwsync(*run_args(write_job(job_dict(source={"rows": rows(1)})), server.url, tmp_path))
    assert result.exit_code == 1 and f"(event {EVENT_ID})" in result.output, result.output


def test_a_secret_referenced_through_vars_never_appears_in_a_row_problem(mwsync, write_job, tmp_path, monkeypatch):
    monkeypatch.setenv("MW_TOKEN", "sk-live-0123456789")
    job = job_dict(vars={"token": "${MW_TOKEN}"},
                   message={**job_dict()["message"], "text": "{{ token | int }}"})
    result = mwsync(*run_args(write_job(job), "http://127.0.0.1:9", tmp_path, "--report", tmp_path / "r.json"))
    assert result.exit_code == 2 and "is not a number" in result.output
    assert "sk-live-0123456789" not in result.output + (tmp_path / "r.json").read_text()


@pytest.mark.parametrize("template", ["/proc/self/environ", "../../../../etc/passwd"], ids=["absolute", "climbing"])
def test_a_template_outside_templates_dir_is_refused_before_anything_is_read(mwsync, write_job, tmp_path, mock,
                                                                             template):
    message = {k: v for k, v in job_dict()["message"].items() if k != "text"}
    result = mwsync(*run_args(write_job(job_dict(message={**message, "template": template})), mock.url, tmp_path))
    assert result.exit_code == 2 and "not inside templates_dir" in result.output
    assert mock.messages() == [] and "MW_CLIENT_SECRET" not in result.output


def test_a_symlink_out_of_templates_dir_is_refused(mwsync, write_job, tmp_path, mock):
    (tmp_path / "templates").mkdir()
    (tmp_path / "outside.txt").write_text("secret stuff")
    os.symlink(tmp_path / "outside.txt", tmp_path / "templates" / "t.j2")
    message = {k: v for k, v in job_dict()["message"].items() if k != "text"}
    job = job_dict(templates_dir="templates", message={**message, "template": "t.j2"})
    result = mwsync(*run_args(write_job(job), mock.url, tmp_path))
    assert result.exit_code == 2 and "leads outside templates_dir" in result.output and mock.messages() == []


def test_a_fifo_as_source_gets_its_own_error(mwsync, write_job, tmp_path, mock):
    os.mkfifo(tmp_path / "rows.csv")
    result = mwsync(*run_args(write_job(job_dict(source={"csv": "rows.csv"})), mock.url, tmp_path))
    assert result.exit_code == 2 and "is a FIFO, not a regular file" in result.output


@pytest.mark.parametrize("case", ["bad-rows", "broken-yaml", "bad-throttle", "missing-credentials"])
def test_every_exit_2_path_writes_valid_reports_replacing_stale_ones(mwsync, write_job, tmp_path, monkeypatch, case):
    report, junit = tmp_path / "r.json", tmp_path / "r.xml"
    report.write_text("stale from an earlier run")
    junit.write_text("stale")
    args: list = []
    if case == "bad-rows":
        path = write_job(job_dict(source={"rows": [{"id": "1", "name": "x", "email": "not-an-email"}]}))
    elif case == "broken-yaml":
        path = write_job("name: [unclosed\n")
    elif case == "bad-throttle":
        path, args = write_job(job_dict()), ["--throttle", "0/1"]
    else:
        monkeypatch.delenv("MW_CLIENT_SECRET")
        path = write_job(job_dict(subscription={**job_dict()["subscription"], "api_url": "https://api.moveworks.ai"}))
    result = mwsync("run", path, "--journal", tmp_path / "j.sqlite", "--report", report, "--junit", junit, *args)
    assert result.exit_code == 2, result.output
    document = json.loads(report.read_text())
    assert document["exit_code"] == 2 and document["error"]["exit_code"] == 2 and document["jobs"] == []
    case_element = ET.parse(junit).getroot().find(".//testcase")
    assert case_element is not None and case_element.find("failure") is not None


def test_exit_codes_take_the_most_urgent(mwsync, write_job, tmp_path):
    """One job in doubt and one failed in the same run: 3 wins over 1."""
    with MockServer(events=[EVENT_ID], clients=dict([DEMO_CLIENT])) as server:
        server.inject(lose_reply_next=1)
        doubt = write_job(job_dict(name="doubt", source={"rows": rows(1)}), "doubt.yaml")
        refused = job_dict(name="refused", source={"rows": rows(1, start=10)})
        refused["message"] = {**refused["message"], "event_id": "5c1d6f0e-6a8b-4c53-9a51-0f7b8e4a2d11"}
        result = mwsync("run", doubt, write_job(refused, "refused.yaml"), "--api-url", server.url,
                        "--state-dir", tmp_path / "state")
    assert result.exit_code == 3 and "unknown 1" in result.output and "failed 1" in result.output, result.output


def test_environment_values_that_are_not_secrets_are_shown(mwsync, write_job, tmp_path, mock, monkeypatch):
    """Only secrets are redacted: an API URL, a team name or a portal link from the environment are data."""
    monkeypatch.setenv("TEAM_NAME", "Finance")
    monkeypatch.setenv("MW_API_URL", mock.url)
    job = job_dict(vars={"team": "${TEAM_NAME}"}, source={"rows": rows(1)},
                   subscription={**job_dict()["subscription"], "api_url": "${MW_API_URL}"},
                   message={**job_dict()["message"], "text": "Hi {{ name }} of {{ team }}"})
    result = mwsync("run", write_job(job), "--journal", tmp_path / "j.sqlite", "--report", tmp_path / "r.json")
    assert result.exit_code == 0 and f"-> {mock.url}" in result.output, result.output
    assert json.loads((tmp_path / "r.json").read_text())["jobs"][0]["target"] == mock.url
    assert mock.messages()[0]["message"] == "Hi User 0 of Finance"


def test_a_variable_named_as_a_passphrase_is_redacted_in_the_preview(mwsync, write_job, monkeypatch):
    monkeypatch.setenv("SIGNING_PASSPHRASE", "correct-horse-battery")
    job = job_dict(vars={"phrase": "${SIGNING_PASSPHRASE}"}, source={"rows": rows(1)},
                   message={**job_dict()["message"], "text": "code {{ phrase }}"})
    result = mwsync("preview", write_job(job))
    assert result.exit_code == 0 and "correct-horse-battery" not in result.output, result.output


def test_a_missing_secret_variable_is_not_answered_with_a_default_the_next_run_refuses(mwsync, write_job,
                                                                                       monkeypatch):
    monkeypatch.delenv("NOPE_SECRET", raising=False)
    job = job_dict(subscription={"api_url": "https://api.moveworks.ai", "client_id": "x",
                                 "client_secret": "${NOPE_SECRET}"})
    result = mwsync("validate", write_job(job))
    assert result.exit_code == 2 and "environment variable NOPE_SECRET is not set; export it" in result.output
    assert ":-default" not in result.output


def test_status_and_resolve_point_to_the_target_a_message_is_in_doubt_for(mwsync, write_job, tmp_path, mock):
    job = write_job(job_dict(source={"rows": rows(2)}))
    journal = ["--journal", tmp_path / "j.sqlite"]
    mock.inject(lose_reply_next=1)
    assert mwsync("run", job, "--api-url", mock.url, *journal).exit_code == 3
    status = mwsync("status", job, *journal)  # the job's own target is embedded: nothing there
    assert f"also in this journal: {mock.url}, 1 in doubt (mwsync status {job} --api-url {mock.url})" in status.output
    refused = mwsync("resolve", job, "k-0", "--as", "sent", *journal)
    assert refused.exit_code == 1 and f"1 message is in doubt for {mock.url}: add --api-url {mock.url}" in \
        refused.output
    here = mwsync("status", job, "--api-url", mock.url, *journal)
    assert f"mwsync resolve {job} KEY --as sent|unsent --api-url {mock.url}" in here.output
    assert mwsync("resolve", job, "k-0", "--as", "sent", "--api-url", mock.url, *journal).exit_code == 0
