"""A bundled mock of the Moveworks Events API, for mwsync's tests, load tests and demos.

It is a faithful twin of the contract the runner follows (token endpoint, auth test, event send,
deprecated send, errors, org-wide rate limit) plus inspection (`/_mock/messages`, `/_mock/stats`,
`/_mock/requests`) and fault injection (`/_mock/faults`). Modules, edge to core::

    cli (click)  ->  server (MockServer, uvicorn)  ->  app (Falcon + error handlers)
    gateway (rate limit, 413, headers, accounting, dropped connections)
    api (Moveworks routes)  admin (/_mock routes)  ->  state (one lock)
    contract, oauth, tokens, ratelimit, faults, settings  (pure rules, no I/O)

Usage::

    from mock_server import MockServer
    with MockServer(rate_limit="5/1") as srv:
        ...  # point the runner at srv.url, then assert on srv.messages() / srv.stats()
"""

from .server import MockServer

__all__ = ["MockServer"]
