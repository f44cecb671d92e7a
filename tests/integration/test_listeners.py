"""Listener jobs end to end: `mwsync run` in-process against the real mock's webhook listeners, asserting on
what the mock received and what the journal holds. Each auth mode accepted and refused (exit 4, nothing
journalled as sent), the 1 MB limit, 429 recovery exactly once, accept-then-5xx held and never resent, dry
run, bulk replay, an unknown listener, timestamped signatures, the example job embedded (a rerun sends
nothing), and event and listener jobs apart in one journal."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

import jsonschema
import pytest

from mwsync.mock_server import MockServer
from mwsync.rules import DEMO_CLIENT, LISTENER_DELIVERY
from tests.support import LISTENER_ID, LISTENER_SECRET, REPO, job_dict, listener_dict, rows

API_KEY = "listener-api-key-1"
LISTENER_PATH = f"/webhooks/v1/listeners/{LISTENER_ID}/notify"


@pytest.fixture(autouse=True)
def _listener_env(monkeypatch):
    monkeypatch.setenv("MW_LISTENER_SECRET", LISTENER_SECRET)
    monkeypatch.setenv("MW_API_KEY", API_KEY)


def server(mode: str = "hmac", secured_limit: object = None, **kw) -> MockServer:
    """A mock with the test listener in `mode` (hmac: `LISTENER_SECRET`), the demo client and `API_KEY`."""
    listener = {"id": LISTENER_ID, "mode": mode, "secret": LISTENER_SECRET if mode == "hmac" else "",
                **kw.pop("signing", {})}
    return MockServer(clients=dict([DEMO_CLIENT]), api_keys=[API_KEY], listeners=[listener],
                      listener_rate_unsecured=None, listener_rate_secured=secured_limit, **kw)


def job_for(auth: str, n: int = 3, **listener) -> dict:
    job = listener_dict(auth=auth, source={"rows": rows(n)})
    job["listener"].update(listener)
    if auth == "api_key":
        job["subscription"] = {"api_url": "embedded", "api_key": "${MW_API_KEY}"}
    return job


def run_args(job, srv, tmp_path, *extra):
    return ["run", job, "--api-url", srv.url, "--journal", tmp_path / "journal.sqlite", *extra]


def journal(tmp_path) -> list[tuple]:
    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        return db.execute("SELECT target, key, recipient, state FROM deliveries ORDER BY key").fetchall()


MODES = [("none", "none"), ("api_key", "bearer"), ("client_credentials", "bearer"), ("hmac", "hmac")]


@pytest.mark.parametrize(("auth", "mode"), MODES, ids=[auth for auth, _ in MODES])
def test_each_auth_mode_is_accepted_and_a_rerun_sends_nothing(mwsync, write_job, tmp_path, auth, mode):
    path = write_job(job_for(auth))
    with server(mode) as srv:
        first = mwsync(*run_args(path, srv, tmp_path))
        again = mwsync(*run_args(path, srv, tmp_path))
        events = srv.events()
        tokens = srv.stats()["tokens_issued"]
    assert first.exit_code == 0 and "sent 3 messages in 3 requests" in first.output, first.output
    assert again.exit_code == 0 and "nothing new to send (3 of 3 messages already sent)" in again.output
    assert [e["body"] for e in events] == [{"email": r["email"], "name": r["name"]} for r in rows(3)]
    assert {e["auth"] for e in events} == {mode} and tokens == (1 if auth == "client_credentials" else 0)
    target = f"{srv.url}{LISTENER_PATH}"
    assert journal(tmp_path) == [(target, f"k-{i}", LISTENER_DELIVERY, "sent") for i in range(3)]


REFUSED = [
    ("none", "bearer", {}, "the listener refused an unsecured request"),
    ("api_key", "bearer", {"MW_API_KEY": "not-the-key-9876"}, "the listener refused the API key"),
    ("client_credentials", "bearer", {"MW_CLIENT_SECRET": "not-the-secret-9876"}, "token request refused"),
    ("hmac", "hmac", {"MW_LISTENER_SECRET": "not-the-secret-9876"}, "signature refused: check the secret"),
]


@pytest.mark.parametrize(("auth", "mode", "env", "fragment"), REFUSED, ids=[r[0] for r in REFUSED])
def test_each_auth_mode_refused_stops_the_run_with_exit_4_and_nothing_sent(mwsync, write_job, tmp_path, monkeypatch,
                                                                           auth, mode, env, fragment):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with server(mode) as srv:
        result = mwsync(*run_args(write_job(job_for(auth)), srv, tmp_path, "--report", tmp_path / "r.json"))
        received = srv.count_events()
    assert result.exit_code == 4 and "STOPPED: authentication failed" in result.output, result.output
    assert fragment in result.output and received == 0
    assert all(state != "sent" for *_, state in journal(tmp_path))
    assert not any(value in result.output + (tmp_path / "r.json").read_text() for value in env.values())


def test_a_body_over_1_mb_is_a_row_problem_and_nothing_is_sent(mwsync, write_job, tmp_path):
    data = rows(3)
    data[1]["name"] = "x" * 1_000_000
    with server() as srv:
        result = mwsync(*run_args(write_job(job_for("hmac") | {"source": {"rows": data}}), srv, tmp_path))
        requests_seen = srv.stats()["requests"]
    assert result.exit_code == 2 and "row 2, listener.payload: 1,000,0" in result.output, result.output
    assert "over the listener's 1 MB (1,000,000 bytes)" in result.output and "nothing was sent" in result.output
    assert requests_seen == 0


def test_429s_over_the_listener_limit_are_recovered_and_each_body_arrives_once(mwsync, write_job, tmp_path):
    with server(secured_limit="3/1") as srv:  # the job's profile (1000/1) is far over the secured limit
        result = mwsync(*run_args(write_job(job_for("hmac", n=7)), srv, tmp_path))
        stats, events = srv.stats(), srv.events()
    assert result.exit_code == 0, result.output
    assert "answered 429 (each retried while retry.max_attempts allowed)" in result.output
    assert stats["status_429"] >= 1 and stats["listeners"]["duplicate_events"] == 0
    assert Counter(e["body"]["email"] for e in events) == Counter(r["email"] for r in rows(7))


def test_accept_then_5xx_is_held_unknown_and_never_resent(mwsync, write_job, tmp_path):
    path = write_job(job_for("hmac"))
    with server(faults={"accept_fail_next": 1, "accept_fail_status": 502}) as srv:
        first = mwsync(*run_args(path, srv, tmp_path))
        second = mwsync(*run_args(path, srv, tmp_path))
        received = srv.count_events()
        status = mwsync("status", path, "--journal", tmp_path / "journal.sqlite", "--api-url", srv.url)
    assert first.exit_code == 3 and "unknown 1" in first.output, first.output
    assert second.exit_code == 3 and "in doubt" in second.output and received == 3
    assert Counter(state for *_, state in journal(tmp_path)) == {"sent": 2, "unknown": 1}
    assert "in doubt (1)" in status.output and "unknown: message k-0 (row 1)" in status.output


def test_dry_run_plans_against_the_journal_and_sends_nothing(mwsync, write_job, tmp_path):
    with server() as srv:
        result = mwsync(*run_args(write_job(job_for("hmac", n=5)), srv, tmp_path, "--dry-run"))
        seen = srv.stats()["requests"]
    assert result.exit_code == 0 and "dry run: 5 messages to send in 5 requests" in result.output and seen == 0


def test_a_jsonl_set_replays_through_a_listener_job_once(mwsync, write_job, tmp_path):
    lines = [{"id": f"evt-{n}", "payload": {"ticket": f"INC-{n}", "priority": n, "tags": ["a", "b"]}}
             for n in range(4)]
    (data := tmp_path / "set.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    job = job_for("hmac", payload={"event": "{{ payload }}", "source": "replay"}, idempotency_key="{{ id }}")
    path = write_job(job)
    with server() as srv:
        first = mwsync("replay", data, "--job", path, "--api-url", srv.url, "--journal", tmp_path / "journal.sqlite")
        again = mwsync("replay", data, "--job", path, "--api-url", srv.url, "--journal", tmp_path / "journal.sqlite")
        bodies = [e["body"] for e in srv.events()]
    assert first.exit_code == 0 and "sent 4 messages" in first.output, first.output
    assert again.exit_code == 0 and "nothing new to send" in again.output
    assert bodies == [{"event": line["payload"], "source": "replay"} for line in lines]


def test_an_unknown_listener_fails_naming_it_and_the_next_run_tries_again(mwsync, write_job, tmp_path):
    path = write_job(job_for("none", n=1))
    with MockServer(listeners=[]) as srv:
        first = mwsync(*run_args(path, srv, tmp_path, "--report", tmp_path / "r.json"))
        second = mwsync(*run_args(path, srv, tmp_path))
    assert first.exit_code == second.exit_code == 1
    assert f"unknown listener: 404 (listener {LISTENER_ID})" in first.output
    assert json.loads((tmp_path / "r.json").read_text())["jobs"][0]["failures"][0]["status"] == 404
    assert "sent 0 messages in 1 request" in second.output


def test_a_timestamped_signature_with_other_options_is_accepted(mwsync, write_job, tmp_path):
    signing = {"header": "X-Hub-Signature-256", "prefix": "sha256=", "algorithm": "sha512", "encoding": "base64",
               "timestamp_header": "X-Timestamp", "signed_string": "v0:{timestamp}:{body}"}
    job = job_for("hmac", hmac={"secret": "${MW_LISTENER_SECRET}", **signing})
    with server(signing=signing) as srv:
        result = mwsync(*run_args(write_job(job), srv, tmp_path))
        received = srv.count_events()
    assert result.exit_code == 0 and received == 3, result.output


def test_the_example_job_runs_embedded_and_a_rerun_sends_nothing(mwsync, tmp_path, monkeypatch):
    monkeypatch.delenv("MOVEWORKS_API_URL", raising=False)
    monkeypatch.delenv("MOVEWORKS_LISTENER_SECRET", raising=False)
    job = REPO / "jobs" / "incident-digest.yaml"
    first = mwsync("run", job, "--state-dir", tmp_path, "--report", tmp_path / "r.json")
    again = mwsync("run", job, "--state-dir", tmp_path)
    assert first.exit_code == 0 and "sent 10 messages in 10 requests" in first.output, first.output
    assert again.exit_code == 0 and "nothing new to send (10 of 10 messages already sent)" in again.output
    report = json.loads((tmp_path / "r.json").read_text())["jobs"][0]
    assert report["target"] == f"embedded/webhooks/v1/listeners/{LISTENER_ID}/notify"
    assert (report["profile"]["name"], report["messages"]["filtered"]) == ("listener_secured", 2)


def test_event_and_listener_jobs_keep_apart_in_one_journal(mwsync, write_job, tmp_path):
    event_job = write_job(job_dict(name="event-job", source={"rows": rows(2)}), name="event.yaml")
    listener_job = write_job(job_for("hmac", n=2) | {"name": "listener-job"}, name="listener.yaml")
    with server() as srv:
        result = mwsync("run", event_job, listener_job, "--api-url", srv.url, "--journal", tmp_path / "journal.sqlite")
        messages, events = len(srv.messages()), srv.count_events()
    assert result.exit_code == 0 and (messages, events) == (2, 2), result.output
    targets = Counter(target for target, *_ in journal(tmp_path))
    assert targets == {srv.url: 2, f"{srv.url}{LISTENER_PATH}": 2}


def test_plan_shows_requests_and_the_eta_under_the_listener_limit(mwsync, write_job):
    job = listener_dict(source={"rows": rows(400)})
    job.pop("throttle")  # the profile follows the auth mode: listener_unsecured, 1 request per 10 s
    result = mwsync("plan", "--json", write_job(job))
    [plan] = json.loads(result.output)["jobs"]
    assert (plan["kind"], plan["requests"], plan["recipients"]) == ("listener", 400, 0)
    assert plan["estimate_s"] == {"profile": 3990.0, "listener_limit": 3990.0}
    assert plan["listener"] == {"id": LISTENER_ID, "auth": "none", "limit": "listener_unsecured (1/10s)"}
    assert any("400 requests take ~1.1 h under the unsecured listener limit" in w for w in plan["warnings"])
    text = mwsync("plan", write_job(job)).output
    assert "-> 400 requests" in text and "~66.5 min under the listener limit listener_unsecured (1/10s)" in text


SCHEMA = json.loads((REPO / "schema" / "report.schema.json").read_text())


def valid(document: dict, entry: str) -> dict:
    """`document` against the published report schema, its jobs against `$defs/<entry>`."""
    jobs = {"type": "array", "items": {"$ref": f"#/$defs/{entry}"}}
    jsonschema.validate(document, dict(SCHEMA, properties=dict(SCHEMA["properties"], jobs=jobs)))
    return document


@pytest.mark.parametrize("command", ["plan", "validate", "status", "preview", "check"])
def test_every_json_document_of_a_listener_job_fits_the_published_schema(mwsync, write_job, command):
    result = mwsync(command, write_job(job_for("hmac")), "--json")
    assert result.exit_code == 0, result.output
    [entry] = valid(json.loads(result.stdout), f"{command}_job")["jobs"]
    assert entry["job"] == "test-job"


def test_preview_shows_each_body_exactly_as_it_would_be_sent(mwsync, write_job):
    job = job_for("hmac", payload={"email": "{{ email }}", "n": "{{ id | int }}"})
    result = mwsync("preview", write_job(job), "--json", "--row", "2")
    [request] = json.loads(result.stdout)["jobs"][0]["messages"]
    assert request == {"request": 2, "listener_id": LISTENER_ID, "body": {"email": "user1@example.com", "n": 1},
                       "bytes": len(b'{"email":"user1@example.com","n":1}'), "keys": ["k-1"], "rows": [2]}
    text = mwsync("preview", write_job(job), "--limit", "1").output
    assert f"listener:   {LISTENER_ID}" in text and '"email": "user0@example.com"' in text


def test_check_of_a_listener_job_verifies_its_credentials_and_never_sends_an_event(mwsync, write_job):
    with server("bearer") as srv:
        result = mwsync("check", write_job(job_for("client_credentials")), "--api-url", srv.url)
        events = srv.count_events()
    assert result.exit_code == 0 and "ok    access token: issued by" in result.output, result.output
    assert "skip  auth test: a webhook listener has no auth test" in result.output and events == 0
