"""`mwsync preview` (the requests as they would be sent, no network) and `mwsync init` (a starter that runs)."""

from __future__ import annotations

import json

from tests.support import job_dict, rows


def _broadcast(n: int) -> dict:
    """`n` rows, every message the same text: coalesced into ceil(n / 500) requests."""
    return job_dict(message={"event_id": job_dict()["message"]["event_id"], "text": "All hands at 10",
                             "recipients": "{{ email }}", "idempotency_key": "ah-{{ id }}",
                             "slots": {"room": "{{ 'A1' }}"}},
                    source={"rows": rows(n)})


def test_preview_shows_requests_after_chunking_and_coalescing(mwsync, write_job):
    result = mwsync("preview", write_job(_broadcast(1200)), "--json", "--limit", "0")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    [entry] = doc["jobs"]
    assert (entry["messages_total"], entry["requests_total"]) == (1200, 3)
    assert [r["recipient_count"] for r in entry["messages"]] == [500, 500, 200]
    first = entry["messages"][0]
    assert first["recipients"][:2] == ["user0@example.com", "user1@example.com"]
    assert first["text"] == "All hands at 10" and first["slots"] == {"room": "A1"}
    assert first["keys"][:2] == ["ah-0", "ah-1"] and first["rows"][:2] == [1, 2]


def test_preview_text_names_event_recipients_slots_text_and_key(mwsync, write_job):
    result = mwsync("preview", write_job(job_dict()), "--row", "3")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "test-job: 5 messages in 5 requests; showing 1 (row 3)"
    assert lines[1] == "request 3 of 5: key k-2 (row 3)"
    assert "  recipients: 1: user2@example.com" in lines and "    Hi User 2" in lines


def test_preview_limit_and_a_filtered_row(mwsync, write_job):
    job = write_job(job_dict(source={"rows": rows(5), "filter": "id | int != 1"}))
    limited = mwsync("preview", job, "--limit", "2")
    assert limited.output.count("request ") == 2 and "showing 2" in limited.output
    filtered = mwsync("preview", job, "--row", "2")
    assert filtered.exit_code == 2 and "row 2 of inline rows is filtered out by source.filter" in filtered.output
    beyond = mwsync("preview", job, "--row", "9")
    assert beyond.exit_code == 2 and "does not exist (inline rows has 5 rows)" in beyond.output


def test_preview_of_invalid_rows_exits_2_like_plan(mwsync, write_job):
    data = rows(3)
    data[1]["email"] = "broken"
    result = mwsync("preview", write_job(job_dict(source={"rows": data})), "--json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 2 and doc["error"]["type"] == "InvalidMessages"
    assert doc["error"]["problems"][0]["row"] == 2


def test_init_writes_a_job_that_runs_against_the_embedded_mock(mwsync, tmp_path):
    target = tmp_path / "first"
    written = mwsync("init", target)
    assert written.exit_code == 0, written.output
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == [
        "job.yaml", "people.csv", "templates/welcome.html.j2"]
    assert "# " in (target / "job.yaml").read_text()  # it teaches
    run = mwsync("run", target / "job.yaml", "--report", tmp_path / "r.json")
    assert run.exit_code == 0, run.output
    [report] = json.loads((tmp_path / "r.json").read_text())["jobs"]
    assert report["messages"]["sent"] == 3 and report["messages"]["filtered"] == 1
    again = mwsync("run", target / "job.yaml")
    assert again.exit_code == 0 and "nothing new to send" in again.output


def test_init_never_overwrites(mwsync, tmp_path):
    (tmp_path / "job.yaml").write_text("mine")
    result = mwsync("init", tmp_path)
    assert result.exit_code == 2 and "job.yaml already exists; nothing was written" in result.output
    assert (tmp_path / "job.yaml").read_text() == "mine" and not (tmp_path / "people.csv").exists()
