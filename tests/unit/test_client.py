"""The client's pure parts: reading Retry-After, refusing plain http to a remote host (no request is made;
the client against the real mock: tests/integration/test_client.py)."""

from __future__ import annotations

import pytest
import requests

from mwsync.config.job import Subscription
from mwsync.errors import UsageError
from mwsync.rules import DEMO_CLIENT
from mwsync.send.client import MoveworksClient
from mwsync.send.session import retry_after_s
from mwsync.send.throttle import Unlimited


@pytest.mark.parametrize("header,expected", [(None, None), ("3", 3.0), ("-1", None), ("nan", None), ("inf", None),
                                             ("soon", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
                         ids=["absent", "seconds", "negative", "nan", "inf", "garbage", "past-http-date"])
def test_retry_after_forms(header, expected):
    response = requests.Response()
    if header is not None:
        response.headers["Retry-After"] = header
    assert retry_after_s(response) == expected


def test_plain_http_to_a_remote_host_is_refused():
    url = "http://api.moveworks.example"
    with pytest.raises(UsageError, match="plain http"):
        MoveworksClient(url, Subscription(url, *DEMO_CLIENT), Unlimited())
