"""`GET /openapi.json` serves the generated document, and the committed copy matches it (pure checks of the
document: tests/unit/test_mock_openapi.py)."""

from __future__ import annotations

from pathlib import Path

from mwsync.mock_server.openapi import document_bytes

COMMITTED = Path(__file__).resolve().parents[3] / "schema" / "mock-openapi.json"


def test_served_document_is_the_committed_one(srv, http):
    served = http.get(f"{srv.url}/openapi.json")
    assert served.status_code == 200 and served.headers["Content-Type"] == "application/json"
    assert served.content == document_bytes() == COMMITTED.read_bytes(), "run `make schema` and commit the result"

