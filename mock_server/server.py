"""`MockServer`: the Python handle that runs the mock on uvicorn (httptools parser, uvloop when installed).

Embedded use (tests, the runner's embedded mode): `start()` serves from a daemon thread and returns once the
server accepts connections; `stop()` shuts it down and joins the thread. `serve_forever()` serves in the
calling (main) thread with uvicorn's own SIGINT/SIGTERM handling, for the CLI.

The socket is bound here, before uvicorn starts, so `url` is known at once even with `port=0`. Uvicorn's
access log is off and logging is left unconfigured: bearer tokens and secrets are never logged.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .app import create_app
from .gateway import ABORT_EXTENSION
from .ledger import DEFAULT_KEEP_MESSAGES
from .requestlog import FILTERS
from .settings import MockSettings
from .state import MockState

POLL_S = 0.005


class AbortableHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus a scope extension that closes the connection with no response.

    ASGI gives an app no way to drop a connection (uvicorn answers 500 when an app returns without a
    response); `scope["extensions"][ABORT_EXTENSION]()` aborts the transport instead.
    """

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {ABORT_EXTENSION: self.transport.abort}  # type: ignore[typeddict-unknown-key]


def _listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket; raises `OSError` (address in use, unknown host).

    Created with `IPPROTO_TCP` explicitly: asyncio only disables Nagle (TCP_NODELAY) on sockets whose
    `proto` says TCP, and `socket.create_server` leaves it 0, which costs ~40 ms per response under the
    plain asyncio loop (headers and body are separate writes meeting delayed ACKs).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


class MockServer:
    """A mock Moveworks API server; see docs/mock-server.md for every option, status and error code.

    Keyword options follow `MockSettings` (units in names: `window_s`, `token_ttl_s`, `latency_ms`).
    `rate_limit`: `(limit, window_s)` or `"limit/window_s"`, None = no limit; `faults`: initial fault spec
    (see `faults`); `clock`: monotonic seconds for token expiry and the rate-limit window (tests inject a
    fake one); `keep_messages`: message bodies kept (counts cover all); `log_headers`/`log_bodies`: what the
    request log keeps, redacted; `scenario`: rules or a YAML file (see `scenario`); `proxy_to`: forward API
    requests to this real API URL; `record_to`: with `proxy_to`, write what passed as a cassette there.
    Raises `ValueError` for bad options, `OSError` when the address cannot be bound (at `start`).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: tuple[int, float] | str | None = (120, 60.0),
        rate_limit_algorithm: str = "sliding",
        rate_limit_headers: bool = True,
        token_ttl_s: float = 3600.0,
        clients: Mapping[str, str] | None = None,
        api_keys: Iterable[str] = (),
        events: Iterable[str] | None = None,
        users: Iterable[str] | None = None,
        token_request: str = "both",
        token_response: str = "plain",
        allow_basic_auth: bool = False,
        latency_ms: float = 0,
        seed: int | None = None,
        *,
        faults: Mapping[str, Any] | None = None,
        clock: Callable[[], float] | None = None,
        request_log_size: int = 1000,
        keep_messages: int = DEFAULT_KEEP_MESSAGES,
        log_headers: bool = False,
        log_bodies: bool = False,
        scenario: str | Path | Iterable[Mapping[str, Any]] | None = None,
        proxy_to: str | None = None,
        record_to: str | Path | None = None,
        loop: str = "auto",
    ) -> None:
        self.settings = MockSettings.build(
            host=host, port=port, rate_limit=rate_limit, rate_limit_algorithm=rate_limit_algorithm,
            rate_limit_headers=rate_limit_headers, token_ttl_s=token_ttl_s, clients=clients, api_keys=api_keys,
            events=events, users=users, token_request=token_request, token_response=token_response,
            allow_basic_auth=allow_basic_auth, latency_ms=latency_ms, seed=seed, clock=clock,
            request_log_size=request_log_size, keep_messages=keep_messages, log_headers=log_headers,
            log_bodies=log_bodies, scenario=scenario, proxy_to=proxy_to, record_to=record_to,
        )  # fmt: skip
        self.state = MockState(self.settings)
        if faults:
            self.state.inject(dict(faults))
        self._loop = loop
        self._port = self.settings.port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self, timeout_s: float = 10.0) -> MockServer:
        """Serve from a daemon thread; return `self` once listening. Raises `RuntimeError` on failure/timeout."""
        if self._thread is not None:
            return self
        server, sock = self._prepare()
        self._error = None
        self._thread = threading.Thread(target=self._run, args=(server, sock), name=f"mock-server:{self._port}")
        self._thread.daemon = True
        self._thread.start()
        deadline_s = time.monotonic() + timeout_s
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline_s:
                self.stop()
                raise RuntimeError(f"mock server did not start on {self.url}") from self._error
            time.sleep(POLL_S)
        return self

    def serve_forever(self, on_listening: Callable[[str], None] | None = None) -> None:
        """Serve in the calling thread until SIGINT/SIGTERM; `on_listening(url)` runs once the socket listens."""
        server, sock = self._prepare()
        if on_listening is not None:
            on_listening(self.url)
        server.run(sockets=[sock])

    def stop(self, timeout_s: float = 10.0) -> None:
        """Shut down and join the thread; idempotent. A stopped server can `start()` again on the same port."""
        server, thread = self._server, self._thread
        if server is not None:
            server.should_exit = True
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
        self._server, self._thread = None, None

    def _prepare(self) -> tuple[uvicorn.Server, socket.socket]:
        sock = _listen(self.settings.host, self._port)
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(self.state), http=AbortableHttpToolsProtocol, loop=self._loop, ws="none",
            lifespan="off", access_log=False, log_config=None, log_level="warning", server_header=False,
            proxy_headers=False, timeout_keep_alive=30, timeout_graceful_shutdown=2,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        return self._server, sock

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported by start(); a daemon thread has nowhere else to raise
            self._error = exc
        finally:
            sock.close()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound port (the real one once started, even when asked for port 0)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:8765` (no trailing slash)."""
        host = self.settings.host
        return f"http://[{host}]:{self._port}" if ":" in host else f"http://{host}:{self._port}"

    # -- inspection and control (same documents as the /_mock/ endpoints) ---------------------------------
    def messages(self) -> list[dict[str, Any]]:
        """Every kept accepted send (the last `keep_messages`), arrival order == all pages of `/_mock/messages`."""
        return self.state.messages()

    def count(self, event_id: str | None = None, recipient: str | None = None) -> int:
        """Accepted sends for `event_id` and/or to `recipient` (case-blind), over every message since the last
        reset, kept or not == `GET /_mock/verify?...` `messages`."""
        return self.state.count(event_id, recipient)

    def verify(self, **filters: Any) -> dict[str, Any]:
        """== `GET /_mock/verify`: `filters` are `path`, `method`, `status`, `event_id`, `recipient`."""
        return self.state.verify(**{name: filters.get(name) for name in FILTERS} | _known(filters))

    def stats(self) -> dict[str, Any]:
        """== `GET /_mock/stats`."""
        return self.state.stats()

    def requests(self, limit: int | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Last `limit` API requests matching `filters` (`path`, `method`, `status`, `event_id`, `recipient`)
        == `GET /_mock/requests`."""
        return self.state.request_log(limit, **_known(filters))

    def reset(self) -> None:
        """== `POST /_mock/reset`: clears messages, stats, tokens, the rate-limit window and faults."""
        self.state.reset()

    def inject(self, **fault: Any) -> dict[str, Any]:
        """== `POST /_mock/faults`: apply a partial fault spec; returns the active spec. Raises `ValueError`."""
        return self.state.inject(fault)

    def clear_faults(self) -> dict[str, Any]:
        """== `DELETE /_mock/faults`."""
        return self.state.clear_faults()

    def revoke_tokens(self, client_id: str | None = None) -> int:
        """== `POST /_mock/revoke-tokens`: revoke live tokens (of one client when given); returns how many."""
        return self.state.revoke_tokens(client_id)


def _known(filters: Mapping[str, Any]) -> dict[str, Any]:
    """`filters` checked against `requestlog.FILTERS`; raises `ValueError` naming an unknown one."""
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise ValueError(f"unknown filter(s) {', '.join(unknown)} (valid: {', '.join(FILTERS)})")
    return dict(filters)
