"""Scenario rules: faults scoped to an event, a recipient or the Nth matching request, from the fault API,
`MockServer(scenario=...)` or a YAML file (`--scenario`)."""

from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner
from mock_helpers import EVENT_ID, TOKEN_FORM, error_of, get_token, random_event, send

from mwsync.mock_server import MockServer
from mwsync.mock_server.cli import main
from mwsync.mock_server.scenario import load_scenario

SCENARIO = f"""\
rules:
  - match: {{event_id: {EVENT_ID}}}
    respond: {{status: 404, code: INVALID_EVENT_ID, message: "Event not found"}}
  - match: {{recipient: Bob@Example.com}}
    respond: {{status: 400, code: RECIPIENT_NOT_ALLOWED}}
  - match: {{endpoint: send, nth: 3}}
    respond: {{status: 500}}
"""


def test_yaml_scenario_scopes_faults(tmp_path, http):
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    with MockServer(scenario=path) as srv:
        token, other = get_token(srv, http), random_event()
        assert error_of(send(srv, http, token))[:3] == (404, "INVALID_EVENT_ID", "Event not found")
        bob = send(srv, http, token, {"message": "x", "recipients": ["ada@example.com", "bob@example.com"]}, other)
        assert error_of(bob)[:2] == (400, "RECIPIENT_NOT_ALLOWED")
        codes = [send(srv, http, token, event_id=other).status_code for _ in range(3)]
        assert codes == [500, 200, 200]  # the third send that passed every check (the two above count)
        assert srv.stats()["faults"]["scenario_rules_fired"] == 3 and len(srv.messages()) == 2
        srv.reset()  # the start-up scenario comes back with fresh counts
        assert send(srv, http, get_token(srv, http)).status_code == 404


def test_rules_through_the_fault_api_with_nth_and_times(srv, http):
    token = get_token(srv, http)
    rules = [{"match": {"nth": 2, "times": 2}, "respond": {"accept_status": 502}}]
    assert http.post(f"{srv.url}/_mock/faults", json={"rules": rules}).json()["faults"]["rules"] == rules
    assert [send(srv, http, token).status_code for _ in range(4)] == [200, 502, 502, 200]
    assert len(srv.messages()) == 4  # accepted, then the 502s
    assert http.delete(f"{srv.url}/_mock/faults").json()["faults"]["rules"] == []


@pytest.mark.parametrize(
    ("respond", "check"),
    [({"drop": True}, "dropped"), ({"lose_reply": True}, "lost"), ({"status": 429, "retry_after_s": 7}, "429"),
     ({"latency_ms": 80}, "slow")],
    ids=["drop", "lose-reply", "429-retry-after", "latency"],
)  # fmt: skip
def test_rule_actions(srv, http, respond, check):
    token = get_token(srv, http)
    srv.inject(rules=[{"match": {"recipient": "ada@example.com", "times": 1}, "respond": respond}])
    if check in ("dropped", "lost"):
        with pytest.raises(requests.ConnectionError):
            send(srv, http, token)
        assert len(srv.messages()) == (1 if check == "lost" else 0)
    elif check == "429":
        response = send(srv, http, token)
        assert error_of(response)[:2] == (429, "TOO_MANY_REQUESTS") and response.headers["Retry-After"] == "7"
    else:
        send(srv, http, token)
        assert srv.requests(limit=1)[0]["duration_ms"] >= 80
    assert send(srv, http, token).status_code == 200  # times: 1


def test_token_and_auth_test_rules(srv, http):
    srv.inject(rules=[{"match": {"endpoint": "token", "nth": 2}, "respond": {"status": 503}},
                      {"match": {"endpoint": "auth_test"}, "respond": {"status": 401}}])
    token = get_token(srv, http)
    assert error_of(http.post(f"{srv.url}/oauth/v1/token", data=TOKEN_FORM))[:2] == (503, "SERVICE_UNAVAILABLE")
    auth = http.get(f"{srv.url}/rest/v1/auth/test", headers={"Authorization": f"Bearer {token}"})
    assert error_of(auth)[:2] == (401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    ("rules", "text"),
    [([{"respond": {"status": 200}}], "rules[0].respond.status"),
     ([{"match": {"event_id": "nope"}, "respond": {"status": 404}}], "rules[0].match.event_id: 'nope' is not a UUID"),
     ([{"match": {"nth": 0}, "respond": {"drop": True}}], "rules[0].match.nth"),
     ([{"respond": {"drop": True, "status": 500}}], "give one of"),
     ([{"match": {"endpoint": "token", "recipient": "a@example.com"}, "respond": {"drop": True}}], "only match sends"),
     ([{"respond": {"drop": True}, "when": {}}], "rules[0].when: Extra inputs"),
     ({"match": {}}, "must be a list")],
    ids=["status-200", "event-not-uuid", "nth-0", "two-actions", "token-recipient", "unknown-key", "not-a-list"],
)  # fmt: skip
def test_bad_rules_are_refused_naming_the_field(srv, http, rules, text):
    status, code, message = error_of(http.post(f"{srv.url}/_mock/faults", json={"rules": rules}))
    assert (status, code) == (400, "BAD_REQUEST") and text in message
    with pytest.raises(ValueError, match="rules"):
        srv.inject(rules=rules)


def test_bad_scenario_file_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("rules:\n  - match: {nth: 2}\n    respond: {status: 500}\n  - respond: {status: teapot}\n")
    with pytest.raises(ValueError, match=r"bad.yaml:4: rules\[1\].respond.status"):
        load_scenario(path)
    result = CliRunner().invoke(main, ["--port", "0", "--scenario", str(path)])
    assert result.exit_code == 2 and "rules[1].respond.status" in result.output and "Traceback" not in result.output
    path.write_text("rulez: []\n")
    assert "one key, rules" in CliRunner().invoke(main, ["--port", "0", "--scenario", str(path)]).output


def test_the_guides_scenario_example_loads_from_a_file(tmp_path):
    """A file's `accept_status: 502` arrived as text and the guide's own example was refused."""
    import re
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[3] / "docs" / "mock-server.md").read_text(encoding="utf-8")
    example = re.search(r"## Scenarios.*?```yaml\n(.*?)```", guide, re.S).group(1)
    path = tmp_path / "scenario.yaml"
    path.write_text(example + "  - match: {endpoint: send, nth: 9}\n"
                              "    respond: {redirect_to: 'http://127.0.0.1:9/x', redirect_status: 302}\n")
    rules = load_scenario(path)
    assert [r.respond.accept_status for r in rules if r.respond.accept_status] == [502]
    assert rules[-1].respond.redirect_status == 302
