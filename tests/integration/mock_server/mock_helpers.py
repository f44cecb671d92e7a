"""Helpers shared by the mock server tests (constants, a fake clock, request shortcuts)."""

from __future__ import annotations

import uuid

import requests

from mwsync.mock_server import MockServer
from mwsync.rules import DEMO_CLIENT
from tests.support import FakeClock  # noqa: F401 - the suite's one fake clock, re-exported for these tests

CLIENT_ID, CLIENT_SECRET = DEMO_CLIENT
EVENT_ID = "5c1d6f0e-6a8b-4c53-9a51-0f7b8e4a2d11"
TOKEN_FORM = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant_type": "client_credentials"}


def get_token(srv: MockServer, http: requests.Session) -> str:
    response = http.post(f"{srv.url}/oauth/v1/token", data=TOKEN_FORM)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def send(
    srv: MockServer, http: requests.Session, token: str, body: object = None, event_id: str = EVENT_ID
) -> requests.Response:
    """POST a send for `event_id` with `Authorization: Bearer <token>` and a JSON body."""
    body = {"message": "Hello", "recipients": ["ada@example.com"]} if body is None else body
    return http.post(
        f"{srv.url}/rest/v1/events/{event_id}/messages/send", json=body, headers={"Authorization": f"Bearer {token}"}
    )


def error_of(response: requests.Response) -> tuple[int, str, str]:
    """`(status, code, message)` of an error answer; fails when the body is not the one error shape."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return response.status_code, body["error"]["code"], body["error"]["message"]


def random_event() -> str:
    return str(uuid.uuid4())
