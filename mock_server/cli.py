"""`python -m mock_server` / `mwsync mock-server`: run the mock Moveworks API until Ctrl-C.

The click layer only parses flags into `MockServer` keywords and a fault spec; every rule lives below it.
It prints the URL first (`Mock Moveworks API listening on http://127.0.0.1:8765`), then a summary.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import click

from .faults import ACCEPT_FAIL_STATUSES, FAIL_STATUSES, LATENCY_TARGETS, TOKEN_FAIL_STATUSES
from .ledger import DEFAULT_KEEP_MESSAGES
from .listeners import ALGORITHMS, ENCODINGS, parse_listener
from .server import MockServer
from .settings import (
    RATE_LIMIT_ALGORITHMS,
    TOKEN_REQUEST_FORMATS,
    TOKEN_RESPONSE_SHAPES,
    load_users_file,
)

DEFAULT_PORT = 8765
DEFAULT_RATE_LIMIT = "120/60"  # Moveworks' default: 120 requests per minute for the organization
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def _parse_clients(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str] | None:
    clients = {}
    for value in values:
        client_id, sep, secret = value.partition(":")
        if not sep or not client_id or not secret:
            raise click.BadParameter(f"expected ID:SECRET, got {client_id!r}:...", ctx=ctx, param=param)
        clients[client_id] = secret
    return clients or None


FAULT_OPTIONS = [
    click.option("--fail-rate", type=click.FloatRange(0, 1), help="Fraction of sends answered with --fail-status."),
    click.option("--fail-next", type=click.IntRange(0), help="Answer the next N sends with --fail-status."),
    click.option("--fail-status", type=click.Choice([str(s) for s in FAIL_STATUSES]),
                 help="Status for failed sends [500]."),
    click.option("--drop-rate", type=click.FloatRange(0, 1),
                 help="Fraction of sends whose connection is closed, unrecorded."),
    click.option("--drop-next", type=click.IntRange(0), help="Close the connection on the next N sends, unrecorded."),
    click.option("--lose-reply-next", type=click.IntRange(0),
                 help="Record the next N accepted sends, then close without a reply."),
    click.option("--accept-fail-next", type=click.IntRange(0),
                 help="Record the next N accepted sends, then answer --accept-fail-status."),
    click.option("--accept-fail-rate", type=click.FloatRange(0, 1),
                 help="Fraction of accepted sends answered --accept-fail-status (1 = always)."),
    click.option("--accept-fail-status", type=click.Choice([str(s) for s in ACCEPT_FAIL_STATUSES]),
                 help="Status after an accepted send [500]."),
    click.option("--drip-interval-ms", type=click.FloatRange(0), help="Write reply bodies one byte per MS."),
    click.option("--drip-on", type=click.Choice(LATENCY_TARGETS), help="Where dripping applies [send]."),
    click.option("--token-expires-in-raw", metavar="JSON",
                 help="JSON text sent as expires_in (e.g. '\"soon\"', 1e400, null)."),
    click.option("--token-omit-expires-in", is_flag=True, help="Token answers carry no expires_in."),
    click.option("--token-access-token", metavar="TEXT",
                 help="Token answers carry this access_token (hostile: a newline, non-ASCII, megabytes)."),
    click.option("--echo-request-in-errors", is_flag=True,
                 help="Hostile server: error messages quote the request body and Authorization."),
    click.option("--fault-latency-ms", type=click.FloatRange(0), help="Extra fixed latency (ms) from faults."),
    click.option("--fault-latency-jitter-ms", type=click.FloatRange(0), help="Extra random latency 0..MS."),
    click.option("--fault-latency-on", type=click.Choice(LATENCY_TARGETS), help="Where fault latency applies [send]."),
    click.option("--token-fail-next", type=click.IntRange(0), help="Refuse the next N token requests."),
    click.option("--token-fail-status", type=click.Choice([str(s) for s in TOKEN_FAIL_STATUSES]),
                 help="Status for refused token requests [500]."),
    click.option("--force-429-next", type=click.IntRange(0), help="Answer the next N API requests with 429."),
    click.option("--force-429-retry-after-s", type=click.IntRange(1), help="Retry-After on forced 429s [1]."),
    click.option("--force-429-no-retry-after", is_flag=True, help="Send forced 429s without Retry-After."),
]  # fmt: skip
FAULT_FIELDS_BY_DEST = {
    "fail_rate": "fail_rate", "fail_next": "fail_next", "fail_status": "fail_status",
    "drop_rate": "drop_rate", "drop_next": "drop_next", "lose_reply_next": "lose_reply_next",
    "accept_fail_next": "accept_fail_next", "accept_fail_rate": "accept_fail_rate",
    "accept_fail_status": "accept_fail_status", "drip_interval_ms": "drip_interval_ms", "drip_on": "drip_on",
    "token_expires_in_raw": "token_expires_in_raw", "token_omit_expires_in": "token_omit_expires_in",
    "token_access_token": "token_access_token",
    "echo_request_in_errors": "echo_request_in_errors",
    "fault_latency_ms": "latency_ms", "fault_latency_jitter_ms": "latency_jitter_ms",
    "fault_latency_on": "latency_on", "token_fail_next": "token_fail_next",
    "token_fail_status": "token_fail_status", "force_429_next": "force_429_next",
    "force_429_retry_after_s": "force_429_retry_after_s", "force_429_no_retry_after": "force_429_no_retry_after",
}  # fmt: skip
"""click destination of each fault flag -> `FaultSpec` field (the no-Retry-After flag is folded in)."""


def _fault_spec(options: dict[str, Any]) -> dict[str, Any]:
    """Pop the fault flags out of `options`; return the spec of those given (field names of `FaultSpec`)."""
    given = {dest: options.pop(dest) for dest in FAULT_FIELDS_BY_DEST}
    spec = {FAULT_FIELDS_BY_DEST[dest]: value for dest, value in given.items() if value not in (None, False)}
    for name in ("fail_status", "token_fail_status", "accept_fail_status"):
        if name in spec:
            spec[name] = int(spec[name])
    if spec.pop("force_429_no_retry_after", False):
        spec["force_429_retry_after_s"] = None
    return spec


def _with_fault_options(command: Any) -> Any:
    for option in reversed(FAULT_OPTIONS):
        command = option(command)
    return command


@click.command(name="mock-server", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (loopback unless told).")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535),
              help="0 = any free port.")
@click.option("--rate-limit", metavar="N/S", help="N API requests per S seconds, org-wide.  [default: 120/60]")
@click.option("--no-rate-limit", is_flag=True, help="No rate limit at all (and no X-RateLimit-* headers).")
@click.option("--rate-limit-algorithm", type=click.Choice(RATE_LIMIT_ALGORITHMS), default="sliding", show_default=True)
@click.option("--no-rate-limit-headers", is_flag=True, help="Send no X-RateLimit-* or Retry-After headers.")
@click.option("--token-ttl", "token_ttl_s", type=click.FloatRange(0), default=3600.0, show_default=True, metavar="S")
@click.option("--client", "clients", multiple=True, callback=_parse_clients, metavar="ID:SECRET",
              envvar=["MWSYNC_CLIENT", "MOCK_SERVER_CLIENTS"],
              help="Accepted client credentials (repeatable; the environment variable, space-separated, keeps secrets "
                   "out of ps) [mwsync-demo:mwsync-demo-secret].")
@click.option("--api-key", "api_keys", multiple=True, metavar="KEY", help="Static bearer key accepted (repeatable).")
@click.option("--event", "events", multiple=True, metavar="UUID", help="Known event id (repeatable); none = any UUID.")
@click.option("--users", "users_file", envvar="MWSYNC_USERS_FILE",  # MWSYNC_USERS: loadtest's count
              type=click.Path(exists=True, dir_okay=False), help="Recipient allow-list file.")
@click.option("--token-request", type=click.Choice(TOKEN_REQUEST_FORMATS), default="both", show_default=True)
@click.option("--token-response", type=click.Choice(TOKEN_RESPONSE_SHAPES), default="plain", show_default=True)
@click.option("--allow-basic-auth", is_flag=True, help="Accept client credentials in a Basic header.")
@click.option("--latency-ms", type=click.FloatRange(0), default=0.0, show_default=True, help="Added to every send.")
@click.option("--seed", type=int, help="Seed for random faults (deterministic runs).")
@click.option("--loop", type=click.Choice(("auto", "uvloop", "asyncio")), default="auto", show_default=True,
              help="Event loop (auto = uvloop when installed).")
@click.option("--request-log-size", type=click.IntRange(1), default=1000, show_default=True,
              help="Requests kept for /_mock/requests (raise it to time long runs).")
@click.option("--keep-messages", type=click.IntRange(0), default=DEFAULT_KEEP_MESSAGES, show_default=True,
              help="Message bodies kept for /_mock/messages; counts and verification cover every message.")
@click.option("--log-headers", is_flag=True, help="Request log keeps headers (secrets redacted).")
@click.option("--log-bodies", is_flag=True, help="Request log keeps request and response bodies (secrets redacted).")
@click.option("--scenario", type=click.Path(exists=True, dir_okay=False),
              help="Scenario rules (YAML; `mwsync docs mock-server`).")
@click.option("--proxy-to", metavar="URL",
              help="Forward API requests to this real API URL, checked against the contract.")
@click.option("--record-to", type=click.Path(dir_okay=False),
              help="With --proxy-to: write what passed as a cassette here.")
@click.option("--listener", "listeners", multiple=True, metavar="ID[:MODE[:SECRET]]",
              envvar=["MWSYNC_LISTENER", "MOCK_SERVER_LISTENERS"],
              help="A webhook listener to serve (repeatable); MODE none (default), bearer or hmac. The environment "
                   "variable (space-separated) keeps secrets out of ps.")
@click.option("--listener-header", help="Signature header of hmac listeners [X-Signature].")
@click.option("--listener-algorithm", type=click.Choice(ALGORITHMS), help="HMAC hash of hmac listeners [sha256].")
@click.option("--listener-encoding", type=click.Choice(ENCODINGS), help="Signature encoding [hex].")
@click.option("--listener-prefix", help="Text before the signature, e.g. sha256= (always accepted).")
@click.option("--listener-timestamp-header", help="Header with the signing time (Unix seconds) [none].")
@click.option("--listener-signed-string", help="What is signed, e.g. '{timestamp}.{body}' [{body}].")
@click.option("--listener-rate-limit-unsecured", metavar="N/S", help="Limit all unsecured listeners share [1/10].")
@click.option("--listener-rate-limit-secured", metavar="N/S", help="Limit all secured listeners share [5/1].")
@_with_fault_options
def main(**options: Any) -> None:
    """Run a mock Moveworks Events API server until Ctrl-C or SIGTERM: token, auth test and sends as the
    public contract describes, an org-wide rate limit, fault injection and /_mock/ inspection."""
    faults = _fault_spec(options)
    users_file = options.pop("users_file")
    options["rate_limit_headers"] = not options.pop("no_rate_limit_headers")
    _rate_limits(options)
    options["events"] = options["events"] or None
    try:
        options["listeners"] = _listeners(options)
        options["users"] = load_users_file(users_file) if users_file else None
        server = MockServer(**options, faults=faults)
    except (ValueError, OSError) as exc:
        raise click.UsageError(str(exc)) from None
    if server.settings.host not in LOOPBACK_HOSTS:
        click.echo(f"warning: listening on {server.settings.host}, reachable from other machines", err=True)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        server.serve_forever(on_listening=lambda url: _announce(server, url, faults))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {server.settings.host}:{options['port']}: {exc}") from None
    click.echo("mock server stopped")


def _rate_limits(options: dict[str, Any]) -> None:
    """`--no-rate-limit` turns off every limit (Events API and listeners); it excludes the others."""
    names = ("rate_limit", "listener_rate_limit_unsecured", "listener_rate_limit_secured")
    given = [name for name in names if options[name] is not None]
    if options.pop("no_rate_limit"):
        if given:
            raise click.UsageError(f"give --{given[0].replace('_', '-')} N/S or --no-rate-limit, not both")
        options["listener_rate_unsecured"] = options["listener_rate_secured"] = None
    else:
        options["rate_limit"] = options["rate_limit"] or DEFAULT_RATE_LIMIT
        options["listener_rate_unsecured"] = options["listener_rate_limit_unsecured"] or "1/10"
        options["listener_rate_secured"] = options["listener_rate_limit_secured"] or "5/1"
    options.pop("listener_rate_limit_unsecured")
    options.pop("listener_rate_limit_secured")


def _listeners(options: dict[str, Any]) -> list[Any]:
    """The `--listener` specs with the `--listener-*` signing options applied to each. Raises `ValueError`."""
    flags = ("header", "algorithm", "encoding", "prefix", "timestamp_header", "signed_string")
    defaults = {name: options.pop(f"listener_{name}") for name in flags}
    specs = [item for value in options.pop("listeners") for item in value.split()]
    return [parse_listener(spec, defaults) for spec in specs]


def _announce(server: MockServer, url: str, faults: dict[str, Any]) -> None:
    settings = server.settings
    click.echo(f"Mock Moveworks API listening on {url}")
    rate = settings.rate_limit
    limit = f"{rate.limit}/{rate.window_s:g}s {settings.rate_limit_algorithm}" if rate else "off"
    click.echo(
        f"  rate limit {limit}, keep {settings.keep_messages} messages, token TTL {settings.token_ttl_s:g}s, "
        f"token request {settings.token_request}, response {settings.token_response}, "
        f"clients: {', '.join(settings.clients)}"
    )
    for listener in settings.listeners.values():
        click.echo(f"  listener {listener.listener_id} ({listener.mode}): {url}/webhooks/v1/listeners/"
                   f"{listener.listener_id}/notify")
    if settings.listeners:
        rates = {kind: f"{r.limit}/{r.window_s:g}s" if r else "off" for kind, r in
                 (("unsecured", settings.listener_rate_unsecured), ("secured", settings.listener_rate_secured))}
        click.echo(f"  listener rate limits: unsecured {rates['unsecured']}, secured {rates['secured']}")
    if faults:
        click.echo(f"  faults: {faults}")
    if settings.scenario:
        click.echo(f"  scenario: {len(settings.scenario)} rule(s)")
    if settings.proxy_to:
        record = f", recording to {settings.record_to}" if settings.record_to else ""
        click.echo(f"  proxy to {settings.proxy_to}{record}")
    click.echo("  Ctrl-C to stop")
    sys.stdout.flush()


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
