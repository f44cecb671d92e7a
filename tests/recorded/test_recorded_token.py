"""Token exchange on tape: `POST /oauth/v1/token` form-encoded and JSON, answered plain and `data`-wrapped.

Source: Moveworks Events API reference, "Authentication" (the older guide: form body, plain answer; the
current OpenAPI: JSON body, wrapped answer). On replay the cassette answers with the placeholder access
token, and the runner must use it as its bearer for `GET /rest/v1/auth/test`.
"""

from __future__ import annotations

import pytest

from mwsync.errors import AuthError

pytestmark = pytest.mark.vcr

SHAPES = [("form", "plain"), ("form", "wrapped"), ("json", "plain"), ("json", "wrapped")]


@pytest.mark.mock_only
@pytest.mark.parametrize("token_request, token_response", [
    pytest.param(request, response, marks=pytest.mark.recording_mock(token_response=response, token_request=request))
    for request, response in SHAPES
], ids=[f"{request}-request-{response}-response" for request, response in SHAPES])
def test_token_exchange_then_auth_test(make_client, token_request, token_response):
    client = make_client(token_request=token_request)

    client.test_auth()

    assert client.tokens.fetches == 1


def test_refused_client_secret_raises_auth_error(make_client, target):
    client = make_client(client_secret=target.client_secret + "-wrong")

    with pytest.raises(AuthError, match="token request refused") as caught:
        client.test_auth()

    assert caught.value.status in (400, 401)  # the documented answers to refused credentials
