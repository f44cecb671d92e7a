"""How replay matches: JSON bodies compared parsed (slot key order does not matter), scrubbed fields
compared as placeholders, and a request the cassette lacks fails naming the cassette and the request.

These replay `test_recorded_send`'s committed cassette, so they are skipped while recording.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from recording import EVENT_ID, RECIPIENT, REPLAY
from vcr.errors import CannotOverwriteExistingCassetteException

from mwsync.mock_server.cassettes import REPLAY_URL

SLOTS_CASSETTE = str(Path(__file__).parents[1] / "cassettes" / "test_recorded_send"
                     / "test_send_with_slots_scrubs_configured_slot.yaml")

pytestmark = [pytest.mark.vcr(SLOTS_CASSETTE, record_mode="none"), pytest.mark.scrub("context.slots.employee_id")]


@pytest.fixture(autouse=True)
def _replay_only(recording):
    if recording != REPLAY:
        pytest.skip("replays a committed cassette; nothing to record")


def test_reordered_slot_keys_still_match(make_client):
    slots = {"laptop_model": "ThinkPad T14 Gen 3", "employee_id": "E100042"}  # recorded in the other order

    result = make_client().send_message(EVENT_ID, "Your laptop is due", [RECIPIENT], slots)

    assert result.state == "sent"


def test_scrubbed_slot_matches_any_value(make_client):
    slots = {"employee_id": "E999999", "laptop_model": "ThinkPad T14 Gen 3"}

    result = make_client().send_message(EVENT_ID, "Your laptop is due", [RECIPIENT], slots)

    assert result.state == "sent"


def test_unrecorded_request_fails_naming_cassette_and_request(make_client, vcr):
    slots = {"employee_id": "E100042", "laptop_model": "MacBook Pro 14"}

    with pytest.raises(CannotOverwriteExistingCassetteException) as caught:
        make_client().send_message(EVENT_ID, "Your laptop is due", [RECIPIENT], slots)

    message = str(caught.value)
    assert f"Cassette: {vcr.path}" in message  # pytest-recording names the test's own cassette file
    assert f"POST {REPLAY_URL}/rest/v1/events/{EVENT_ID}/messages/send" in message
    assert "body differs" in message
