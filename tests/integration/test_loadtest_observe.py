"""`mwsync.loadtest.observe` against a real mock: a mock that let messages go cannot prove exactly-once."""

from __future__ import annotations

import json

import pytest
import requests

from mwsync.errors import LoadtestError
from mwsync.loadtest import observe
from mwsync.mock_server import MockServer
from mwsync.rules import DEMO_CLIENT


def test_observe_refuses_a_mock_that_let_messages_go(tmp_path):
    """The load test says which --keep-messages would do instead of judging an incomplete ledger."""
    (tmp_path / "ledger.json").write_text(json.dumps({"errors": {"failures": [], "exceptions": []}}))
    (tmp_path / "locust.json").write_text("[]")
    form = {"client_id": DEMO_CLIENT[0], "client_secret": DEMO_CLIENT[1], "grant_type": "client_credentials"}
    with MockServer(keep_messages=1, clients=dict([DEMO_CLIENT])) as mock, requests.Session() as http:
        token = http.post(f"{mock.url}/oauth/v1/token", data=form).json()["access_token"]
        for n in range(2):
            http.post(f"{mock.url}/rest/v1/messages/send", json={"message": f"m{n}", "recipients": ["ada@example.com"]},
                      headers={"Authorization": f"Bearer {token}"})
        with pytest.raises(LoadtestError, match="--keep-messages 2 or more"):
            observe(mock.url, tmp_path, "run", "")
