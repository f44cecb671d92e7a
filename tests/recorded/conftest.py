"""Fixtures for the cassette tests (tier 3): pytest-recording, one `vcr_config`, replayed offline.

Every test in this directory that is marked `vcr` also gets `block_network`: on replay (record mode
`none`, the default) no socket may connect, not even to 127.0.0.1, and a missing cassette fails before
the test starts. Recording (`make record`, i.e. `--record-mode=rewrite`) lifts the block. Cassettes live
in `tests/cassettes/<test module>/<test name>.yaml`. Markers:

- `recording_mock(**MockServer options)`: how to start the mock this test is recorded against;
- `mock_only`: recording needs the mock (faults, a token shape): skipped, its cassette kept, when
  recording against a real tenant;
- `scrub(*json_paths)`: request JSON fields to scrub besides the credentials, e.g. `"context.slots.*"`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from recording import (
    FAST_RETRY,
    MOCK_CLIENT,
    MOCK_DEFAULTS,
    REPLAY,
    TENANT,
    Target,
    recording_mode,
    replay_target,
    tenant_aliases,
    tenant_target,
)

from mwsync.config.job import Subscription
from mwsync.mock_server import MockServer
from mwsync.mock_server.cassettes import ACCESS_TOKEN, REDACTED, REQUEST_FIELDS, Scrubber
from mwsync.send.client import MoveworksClient
from mwsync.send.throttle import Unlimited

HERE = Path(__file__).parent
CASSETTES = HERE.parent / "cassettes"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "recording_mock(**options): MockServer options used while recording.")
    config.addinivalue_line("markers", "mock_only: recording needs the mock server; skipped against a tenant.")
    config.addinivalue_line("markers", "scrub(*json_paths): extra request JSON paths to scrub, e.g. context.slots.*")


def _mode(config: pytest.Config) -> str:
    return recording_mode(config.getoption("--record-mode") or "none", os.environ)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Block the network for this directory's cassette tests; skip `mock_only` ones against a tenant
    (as a skip mark, so it happens before pytest-recording deletes a cassette for `rewrite`)."""
    tenant = _mode(config) == TENANT
    for item in items:
        if HERE not in item.path.parents or item.get_closest_marker("vcr") is None:
            continue
        item.add_marker(pytest.mark.block_network)
        if tenant and item.get_closest_marker("mock_only"):
            item.add_marker(pytest.mark.skip(reason="recorded against the mock only; its cassette is kept"))


@pytest.fixture(scope="session")
def recording(pytestconfig: pytest.Config) -> str:
    """`replay`, `mock` or `tenant` (see `recording.recording_mode`)."""
    return _mode(pytestconfig)


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """`tests/cassettes/<test module>/`: all cassettes of the repository under one directory."""
    return str(CASSETTES / request.node.path.stem)


@pytest.fixture
def vcr_config(request: pytest.FixtureRequest, recording: str) -> dict:
    """The one cassette configuration: scrub credentials (see `mwsync.mock_server.cassettes`), match on method, path,
    query and body (JSON compared parsed, so key order does not matter), never on scheme, host or port."""
    marker = request.node.get_closest_marker("scrub")
    fields = dict(REQUEST_FIELDS, **{path: REDACTED for path in (marker.args if marker else ())})
    aliases = tenant_aliases(os.environ) if recording == TENANT else {}
    scrubber = Scrubber(request_fields=fields, aliases=aliases)
    return {
        "filter_headers": [("Authorization", f"Bearer {ACCESS_TOKEN}"), ("Cookie", None)],
        "before_record_request": scrubber.request,
        "before_record_response": scrubber.response,
        "decode_compressed_response": True,
        "match_on": ("method", "path", "query", "body"),
    }


@pytest.fixture(autouse=True)
def _cassette_on_disk(request: pytest.FixtureRequest, recording: str) -> None:
    """On replay, fail at once, naming the file, when a cassette test has no cassette to replay."""
    markers = list(request.node.iter_markers("vcr"))
    if recording != REPLAY or not markers:
        return
    directory = Path(request.getfixturevalue("vcr_cassette_dir"))
    named = [Path(arg) for marker in markers for arg in marker.args]
    wanted = [p if p.is_absolute() else directory / p for p in named] or \
        [directory / f"{request.getfixturevalue('default_cassette_name')}.yaml"]
    missing = [str(p.relative_to(HERE.parent.parent)) for p in wanted if not p.exists()]
    if missing:
        pytest.fail(f"no cassette {', '.join(missing)}: record it with `make record` (docs/recording.md)",
                    pytrace=False)


@pytest.fixture
def target(request: pytest.FixtureRequest, recording: str) -> Iterator[Target]:
    """Where this test sends: the replay URL, a fresh mock server (options from `recording_mock`), or the
    tenant named by the environment."""
    if recording == REPLAY:
        yield replay_target()
    elif recording == TENANT:
        try:
            tenant = tenant_target(os.environ)
        except LookupError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield tenant
    else:
        marker = request.node.get_closest_marker("recording_mock")
        with MockServer(**dict(MOCK_DEFAULTS, **(marker.kwargs if marker else {}))) as server:
            yield Target(server.url, *MOCK_CLIENT, mock=server)


@pytest.fixture
def make_client(target: Target) -> Iterator[Callable[..., MoveworksClient]]:
    """`make_client(token_request="json", sleep=sleeps.append, ...)`: a `MoveworksClient` for `target`
    with no throttle (the request order is the test's) and short retries; closed after the test.
    Keyword arguments other than `sleep` override `Subscription` fields."""
    clients: list[MoveworksClient] = []

    def make(*, sleep: Callable[[float], None] = lambda s: None, **subscription: object) -> MoveworksClient:
        fields = dict(api_url=target.base_url, client_id=target.client_id, client_secret=target.client_secret)
        client = MoveworksClient(target.base_url, Subscription(**dict(fields, **subscription)), Unlimited(),
                                 retry=FAST_RETRY, sleep=sleep)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
