"""A bundled mock of the Moveworks Events API, for mwsync's tests, load tests and demos.

It is a faithful twin of the contract the runner follows (token endpoint, auth test, event send,
deprecated send, errors, org-wide rate limit) plus inspection (`/_mock/messages`, `/_mock/stats`,
`/_mock/requests`, `/_mock/verify`), fault injection and scenarios (`/_mock/faults`), an OpenAPI document
of itself (`/openapi.json`) and a proxy mode in front of a real tenant. Modules, edge to core::

    cli (click)  ->  server (MockServer, uvicorn)  ->  app (Falcon + error handlers)
    gateway (rate limit, 413, headers, accounting, request log, drips, dropped connections)
    api (Moveworks routes)  admin (/_mock routes)  proxy (--proxy-to)  ->  state (one lock)
    ledger (bounded messages, counts)  requestlog  faults  scenario  tokens  ratelimit
    contract, oauth, settings, openapi, cassettes  (pure rules, no I/O)
    remote (MockClient: the /_mock/ API over HTTP, for other processes)

Usage::

    from mwsync.mock_server import MockServer
    with MockServer(rate_limit="5/1") as srv:
        ...  # point the runner at srv.url, then assert on srv.messages() / srv.stats()
"""

from .server import MockServer

__all__ = ["MockServer"]
