"""The Moveworks API contract as the client reads it: URL paths, JSON shapes, and the one status table.
The only module that knows them (the mock server keeps its own twin, written from the same notes).

Source for every fact: the Moveworks Events API reference (restated in the project's contract notes,
README "API facts"): `POST /oauth/v1/token`, `GET /rest/v1/auth/test`,
`POST /rest/v1/events/{event_id}/messages/send` with `{"message", "recipients", "context": {"slots"}}`,
200 `{"data": {"status": "RECEIVED"}}`, errors `{"error": {"code", "message"}}` (or flat `{code, message}`);
token responses plain (`{"access_token", "expires_in", "token_type"}`, the older guide) or wrapped in
`{"data": ...}` (the current OpenAPI), `expires_in` documented as 3600 s and as 60 s.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Literal
from urllib.parse import urlsplit

import requests

from ..errors import AuthError, MwsyncError, OutcomeUnknown, PermanentError, RateLimited, Redirected, TransientError
from ..wording import printable
from .session import retry_after_s

TOKEN_PATH = "/oauth/v1/token"
AUTH_TEST_PATH = "/rest/v1/auth/test"
SEND_PATH = "/rest/v1/events/{event_id}/messages/send"
#: `expires_in` assumed when a token response has none: the shorter of the two documented lifetimes.
DEFAULT_EXPIRES_IN_S = 60.0
#: The largest token response and access token accepted (bytes, characters): a JWT is a few KB.
MAX_TOKEN_RESPONSE_BYTES = 1_000_000
MAX_ACCESS_TOKEN_CHARS = 16_384
#: An access token goes into an `Authorization: Bearer` header: visible ASCII only (RFC 6750's b64token is
#: a subset). A newline would split the header, a non-Latin-1 character cannot be sent at all.
ACCESS_TOKEN_RE = re.compile(r"[\x21-\x7e]+")

Call = Literal["token", "send", "auth test"]


def api_error(response: requests.Response) -> tuple[str | None, str | None]:
    """`(code, message)` from an error body, nested `{"error": {...}}` or flat `{code, message}`."""
    try:
        body = response.json()
    except ValueError:
        return None, (printable(response.text, 200) or None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return _text(inner.get("code")), _text(inner.get("message"))
        if isinstance(inner, str):  # OAuth's {"error": "invalid_client", "error_description": ...}
            return _text(inner, 100), _text(body.get("error_description") or body.get("message"))
    return None, None


def _text(value: Any, limit: int = 500) -> str | None:
    return None if value is None else printable(value, limit)


def status_error(response: requests.Response, call: Call, *, resend_on: frozenset[int] = frozenset(),
                 what: str = "") -> MwsyncError:
    """The error for a non-2xx answer to `call`: the one status table of the client.

    | status            | token                | send                           | auth test  |
    |-------------------|----------------------|--------------------------------|------------|
    | 429               | RateLimited (retry)  | RateLimited (retry)            | AuthError  |
    | 503               | TransientError       | TransientError (retry)         | AuthError  |
    | other 5xx         | TransientError       | OutcomeUnknown (held) (**)     | AuthError  |
    | 401               | AuthError            | AuthError (*)                  | AuthError  |
    | 303               | AuthError            | OutcomeUnknown (held)          | AuthError  |
    | other 3xx         | AuthError            | Redirected (failed, stops)     | AuthError  |
    | other             | AuthError            | PermanentError (failed)        | AuthError  |

    (*) a send's first 401 is retried once with a new access token (`Reauthenticate`).
    (**) unless the status is in `resend_on` (the job's `retry.resend_on`): then TransientError.
    A token request carries no message, so retrying it can never duplicate one. `what` names the
    request in the message (e.g. the event id). No redirect is followed (`MoveworksSession.send`): a 3xx
    is an answer. 303 See Other says the POST was processed and its result is elsewhere.
    """
    status = response.status_code
    if 300 <= status < 400:
        return _redirect_error(response, call, what)
    code, message = api_error(response)
    detail = " ".join(str(p) for p in (status, code, message) if p) + (f" ({what})" if what else "")
    if call == "auth test":
        return AuthError(f"auth test failed: {detail}", status=status, code=code)
    if status == 429:
        head = "token request rate limited" if call == "token" else "rate limited"
        return RateLimited(f"{head}: {detail}", retry_after_s(response), code=code, api_message=message)
    if status >= 500:
        if call == "token":
            return TransientError(f"token endpoint failed: {detail}", status=status, code=code, api_message=message)
        if status == 503 or status in resend_on:
            return TransientError(f"server error: {detail}", status=status, code=code, api_message=message)
        return OutcomeUnknown(f"server error after the request was received, it may have been delivered: {detail}",
                              status=status, code=code, api_message=message)
    if call == "token":
        return AuthError(f"token request refused: {detail}; check client_id/client_secret and the API URL's region",
                         status=status, code=code)
    if status == 401:
        return AuthError(f"the API refused the access token: {detail}; check the API URL's region and the "
                         "credentials", status=401, code=code)
    return PermanentError(f"rejected: {detail}", status=status, code=code, api_message=message)


def _redirect_error(response: requests.Response, call: Call, what: str) -> MwsyncError:
    """The error for a 3xx answer: the `status_error` table's 3xx rows. The `Location` is shown as scheme,
    host and path only (a query may carry a token)."""
    status = response.status_code
    location = response.headers.get("Location", "")
    try:
        target = urlsplit(location)
        where = f"{target.scheme}://{target.netloc}{target.path}" if target.netloc else (target.path or "nowhere")
    except ValueError:  # `http://[evil/x`: not a URL at all
        where = location.split("?")[0]
    where = printable(where, 200)
    head = f"{status} redirect to {where}" + (f" ({what})" if what else "")
    fix = "set the API URL to the one the API answers on (mwsync follows no redirect)"
    if call == "token":
        return AuthError(f"the token endpoint answered {head}: the client secret is never re-sent elsewhere; {fix}",
                         status=status)
    if call == "auth test":
        return AuthError(f"auth test failed: {head}; {fix}", status=status)
    if status == 303:
        return OutcomeUnknown(f"the API answered {head} (See Other: it may have processed the message)",
                              status=status)
    return Redirected(f"the API answered {head}, so the message was not delivered; {fix}", status=status)


def expires_in_s(value: Any) -> float:
    """Seconds from a token response's `expires_in` (RFC 6749 section 5.1: a number of seconds): a finite
    number above 0, or a string of digits; missing or null means `DEFAULT_EXPIRES_IN_S`. Raises `AuthError`
    naming the value otherwise (`"soon"`, `"0x10"`, `[1]`, `1e400`, `-5`)."""
    if value is None:
        return DEFAULT_EXPIRES_IN_S
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = float(value.strip())
    if number is None or not math.isfinite(number) or number <= 0:
        shown = json.dumps(value)[:40] if isinstance(value, (str, list, dict, bool)) else repr(value)[:40]
        raise AuthError(f"the token response's expires_in is {shown}, not a number of seconds above 0; the "
                        "token endpoint answered something this client cannot use", status=200)
    return number


def json_token_request(url: str, headers: dict, request_kwargs: dict) -> tuple[str, dict, dict]:
    """Compliance hook: send the token request as JSON (the current OpenAPI) instead of a form."""
    request_kwargs["data"] = json.dumps(request_kwargs.pop("data", {}))
    return url, dict(headers, **{"Content-Type": "application/json"}), request_kwargs


def token_response(response: requests.Response) -> requests.Response:
    """Compliance hook: raise our errors for non-200 answers; unwrap `{"data": {...}}` (current OpenAPI)
    into the plain OAuth shape (older guide) that oauthlib parses; check `expires_in` before oauthlib
    does arithmetic on it."""
    if response.status_code != 200:
        raise status_error(response, "token")
    if len(response.content) > MAX_TOKEN_RESPONSE_BYTES:
        raise AuthError(f"token response is {len(response.content):,} bytes, more than the "
                        f"{MAX_TOKEN_RESPONSE_BYTES:,} a token response can need", status=200)
    try:
        body = response.json()
    except ValueError:
        raise AuthError("token response is not JSON", status=200) from None
    if isinstance(body, dict) and isinstance(body.get("data"), dict) and "access_token" not in body:
        body = body["data"]
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str) or not body["access_token"]:
        raise AuthError("token response has no access_token", status=200)
    token = body["access_token"]
    if len(token) > MAX_ACCESS_TOKEN_CHARS or not ACCESS_TOKEN_RE.fullmatch(token):
        why = f"{len(token):,} characters long" if len(token) > MAX_ACCESS_TOKEN_CHARS else \
            "not visible ASCII (a space, control or non-ASCII character)"
        raise AuthError(f"the token response's access_token is {why}, so it cannot go in an Authorization "
                        "header; the token endpoint answered something this client cannot use", status=200)
    body = dict(body, expires_in=expires_in_s(body.get("expires_in")))
    response._content = json.dumps(body).encode("utf-8")
    return response
