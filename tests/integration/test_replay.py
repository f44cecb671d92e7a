"""`mwsync replay`: a prepared message set streamed from JSONL or CSV, in-process against the real mock
(Ctrl-C and resume, in a real process: tests/system/test_interrupt.py)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mwsync.cli import cli
from tests.support import EVENT_ID, REPO, job_dict

REPLAY_MESSAGE = {"event_id": "{{ event_id }}", "text": "{{ text | safe }}", "recipients": "{{ recipients }}",
                  "slots_from": "slots", "idempotency_key": "{{ idempotency_key }}"}


def replay_job(write_job):
    return write_job(job_dict(message=REPLAY_MESSAGE, source={"rows": []}), name="replay.yaml")


def test_jsonl_rows_hold_lists_objects_and_markup(write_job, mock, tmp_path, client_env):
    data = tmp_path / "set.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in [
        {"idempotency_key": "a", "event_id": EVENT_ID, "recipients": ["x@example.com", "y@example.com"],
         "text": "<b>Bold</b> & plain", "slots": {"ticket": "INC-1", "count": 3}},
        {"idempotency_key": "b", "event_id": EVENT_ID, "recipients": ["z@example.com"],
         "text": "<b>Bold</b> & plain", "slots": {"ticket": "INC-1", "count": 3}},
    ]) + "\n\n")
    result = CliRunner().invoke(cli, ["replay", str(data), "--job", str(replay_job(write_job)), "--api-url", mock.url,
                                      "--journal", str(tmp_path / "j.sqlite")])
    assert result.exit_code == 0, result.output
    [message] = mock.messages()  # identical text and slots: coalesced
    assert message["recipients"] == ["x@example.com", "y@example.com", "z@example.com"]
    assert message["message"] == "<b>Bold</b> & plain"
    assert message["context"] == {"slots": {"ticket": "INC-1", "count": "3"}}


def test_csv_rows_hold_strings(write_job, mock, tmp_path, client_env):
    data = tmp_path / "set.csv"
    data.write_text('idempotency_key,event_id,recipients,text,slots\n'
                    f'a,{EVENT_ID},"x@example.com; y@example.com",Hello,"{{""k"": ""v""}}"\n')
    result = CliRunner().invoke(cli, ["replay", str(data), "--job", str(replay_job(write_job)), "--api-url", mock.url,
                                      "--journal", str(tmp_path / "j.sqlite")])
    assert result.exit_code == 0, result.output
    assert mock.messages()[0]["recipients"] == ["x@example.com", "y@example.com"]
    assert mock.messages()[0]["context"] == {"slots": {"k": "v"}}


@pytest.mark.parametrize("name,content,fragment", [
    ("set.txt", "x", "replay reads .csv or .jsonl"),
    ("set.jsonl", '{"idempotency_key": "a"\n', "line 1: not valid JSON"),
    ("set.jsonl", '[1, 2]\n', "a JSONL row is a JSON object"),
], ids=["suffix", "broken-json", "not-object"])
def test_bad_files_are_named(write_job, tmp_path, client_env, name, content, fragment):
    data = tmp_path / name
    data.write_text(content)
    result = CliRunner().invoke(cli, ["replay", str(data), "--job", str(replay_job(write_job)), "--dry-run",
                                      "--journal", str(tmp_path / "j.sqlite")])
    assert result.exit_code == 2 and fragment in result.output and str(data) in result.output


def test_example_replay_job_plans():
    result = CliRunner().invoke(cli, ["plan", "--json", str(REPO / "jobs/replay/message-set.yaml")])
    assert json.loads(result.output)["jobs"][0]["requests"] == 41


def test_repeated_keys_send_once_and_conflicting_content_is_refused(write_job, mock, tmp_path, client_env):
    rows = [
        {"idempotency_key": "k1", "event_id": EVENT_ID, "recipients": ["a@example.com"], "text": "first"},
        {"idempotency_key": "k1", "event_id": EVENT_ID, "recipients": ["A@example.com", "b@example.com"],
         "text": "first"},
        {"idempotency_key": "k2", "event_id": EVENT_ID, "recipients": ["c@example.com"], "text": "one"},
        {"idempotency_key": "k2", "event_id": EVENT_ID, "recipients": ["c@example.com"], "text": "two"},
    ]
    data = tmp_path / "set.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows))
    job = replay_job(write_job)
    args = ["replay", str(data), "--job", str(job), "--api-url", mock.url, "--journal", str(tmp_path / "j.sqlite")]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2 and "row 4, message.idempotency_key: idempotency key 'k2' was already used by row 3" \
        in refused.output and mock.messages() == []
    sent = CliRunner().invoke(cli, args + ["--skip-invalid", "--report", str(tmp_path / "r.json")])
    received = sorted(r for m in mock.messages() for r in m["recipients"])
    assert received == ["a@example.com", "b@example.com", "c@example.com"], sent.output
    report = json.loads((tmp_path / "r.json").read_text())["jobs"][0]
    assert report["messages"]["duplicates"] == 1 and report["messages"]["invalid"] == 1


def test_an_address_spelt_differently_on_a_rerun_is_not_sent_again(write_job, mock, tmp_path, client_env):
    job = replay_job(write_job)
    args = ["--job", str(job), "--api-url", mock.url, "--journal", str(tmp_path / "j.sqlite")]
    for spelling in ("Ann@Example.com", "ann@example.com"):
        data = tmp_path / "set.jsonl"
        data.write_text(json.dumps({"idempotency_key": "k1", "event_id": EVENT_ID, "recipients": [spelling],
                                    "text": "hello"}) + "\n")
        assert CliRunner().invoke(cli, ["replay", str(data), *args]).exit_code == 0
    assert len(mock.messages()) == 1
