"""Where a cassette test sends: the replay URL, a mock server being recorded, or a real tenant being recorded.

The mode follows pytest-recording's `--record-mode`: `none` (the default, CI) replays; any other mode
records, against the bundled mock server unless `MOVEWORKS_API_URL` is set (then against that tenant,
with `MOVEWORKS_CLIENT_ID`, `MOVEWORKS_CLIENT_SECRET`, `MOVEWORKS_TEST_EVENT_ID`, `MOVEWORKS_TEST_RECIPIENT`).
A test reads its base URL, credentials, event id and recipient from `Target` and never from the
environment, so the same code records and replays. See docs/recording.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mwsync.config.job import RetryPolicy
from mwsync.mock_server import MockServer
from mwsync.mock_server.cassettes import REPLAY_URL
from mwsync.rules import DEMO_CLIENT

#: The event and recipient every cassette shows (a tenant's real ones are aliased to these).
EVENT_ID = "5c1d6f0e-6a8b-4c53-9a51-0f7b8e4a2d11"
RECIPIENT = "ada@example.com"
#: Credentials the mock accepts while recording (scrubbed from every cassette).
MOCK_CLIENT = DEMO_CLIENT
#: Credentials the runner sends on replay: anything works, they are scrubbed before matching.
REPLAY_CLIENT = ("replay-client-id", "replay-client-secret")
#: Small waits so a recording never sleeps long (replays pass a fake `sleep`).
FAST_RETRY = RetryPolicy(max_attempts=3, backoff_initial_s=0.01, backoff_max_s=0.05, retry_after_default_s=0.1,
                         max_retry_after_s=2.0)
#: The mock's settings while recording, unless a test's `recording_mock(...)` marker says otherwise.
MOCK_DEFAULTS: Mapping[str, object] = {"rate_limit": (10_000, 60.0), "clients": dict([MOCK_CLIENT])}
TENANT_VARS = ("MOVEWORKS_API_URL", "MOVEWORKS_CLIENT_ID", "MOVEWORKS_CLIENT_SECRET", "MOVEWORKS_TEST_EVENT_ID",
               "MOVEWORKS_TEST_RECIPIENT")

REPLAY, MOCK, TENANT = "replay", "mock", "tenant"


def recording_mode(record_mode: str, environ: Mapping[str, str]) -> str:
    """`replay` for pytest-recording's record mode `none`, else `tenant` when `MOVEWORKS_API_URL` names a
    real API URL, else `mock`."""
    if record_mode == "none":
        return REPLAY
    url = environ.get("MOVEWORKS_API_URL", "").strip()
    return TENANT if url and url != "embedded" else MOCK


def tenant_aliases(environ: Mapping[str, str]) -> dict[str, str]:
    """Tenant values to example ones, for the cassette scrubber: the real event id and recipient."""
    pairs = [("MOVEWORKS_TEST_EVENT_ID", EVENT_ID), ("MOVEWORKS_TEST_RECIPIENT", RECIPIENT)]
    return {environ[name].strip(): example for name, example in pairs if environ.get(name, "").strip()}


@dataclass(frozen=True)
class Target:
    """What a cassette test sends to and as whom. `mock` is the server being recorded (None on replay
    and against a tenant): tests use it only to arrange faults, through `arrange`."""

    base_url: str
    client_id: str
    client_secret: str
    event_id: str = EVENT_ID
    recipient: str = RECIPIENT
    mock: MockServer | None = field(default=None, compare=False)

    def arrange(self, **fault: object) -> None:
        """Inject a mock fault (`force_429_next=1`, ...) while recording; nothing on replay, where the
        cassette already holds the answers the fault produced."""
        if self.mock is not None:
            self.mock.inject(**fault)

    def revoke_tokens(self) -> None:
        """Revoke the mock's live access tokens while recording; nothing on replay."""
        if self.mock is not None:
            self.mock.revoke_tokens()


def replay_target() -> Target:
    return Target(REPLAY_URL, *REPLAY_CLIENT)


def tenant_target(environ: Mapping[str, str]) -> Target:
    """The tenant named by the environment; raises `LookupError` naming every variable not set."""
    missing = [name for name in TENANT_VARS if not environ.get(name, "").strip()]
    if missing:
        raise LookupError(f"recording against a tenant needs {', '.join(missing)} (see docs/recording.md)")
    return Target(environ["MOVEWORKS_API_URL"].strip().rstrip("/"), environ["MOVEWORKS_CLIENT_ID"].strip(),
                  environ["MOVEWORKS_CLIENT_SECRET"].strip(), environ["MOVEWORKS_TEST_EVENT_ID"].strip(),
                  environ["MOVEWORKS_TEST_RECIPIENT"].strip())
