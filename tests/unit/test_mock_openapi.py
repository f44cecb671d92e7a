"""The mock's OpenAPI document on its own (pure): valid OpenAPI 3.1, every route described, contract limits."""

from __future__ import annotations

import json

from openapi_spec_validator import validate

from mwsync.mock_server.admin import ADMIN_ROUTES
from mwsync.mock_server.api import API_ROUTES
from mwsync.mock_server.openapi import build_document


def test_document_is_valid_openapi_31():
    document = build_document()
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_every_route_and_method_is_described_with_its_tag():
    paths = build_document()["paths"]
    for routes, tag in ((API_ROUTES, "moveworks"), (ADMIN_ROUTES, "mock")):
        for path, _, _ in routes:
            assert path in paths and all(op["tags"] == [tag] for op in paths[path].values())
    assert set(paths["/_mock/faults"]) == {"get", "post", "delete"}
    assert paths["/rest/v1/messages/send"]["post"]["deprecated"] is True


def test_send_schema_carries_the_contract_limits():
    send = build_document()["components"]["schemas"]["SendRequest"]["properties"]
    assert send["recipients"]["maxItems"] == 500 and send["message"]["maxLength"] == 20_000
    assert json.dumps(build_document()).count("client_secret") == 2  # request schema only, never a value
