"""Client credentials, access tokens and static API keys: issue, validate, expire, revoke. Pure, clock injected.

Moveworks issues opaque `mwt_...` bearer tokens for the OAuth 2.0 client-credentials grant, with no refresh
token; `expires_in` is the lifetime in seconds (3600 in the older guide, 60 in the current credentials page,
shared contract "Authentication"). A token is valid while `clock() < expires_at`: it expires exactly at
`issued_at + ttl_s`. Static API keys are bearer values that never expire and cannot be revoked.

Tokens are never stored in logs or inspection output; each has a non-secret `token_id` (`tok_000001`,
or `key_1` for the first API key) that `/_mock/messages` reports instead.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

TOKEN_PREFIX = "mwt_"
SWEEP_EVERY = 1024  # issues between purges of expired tokens (bounds memory under token-per-request load)


@dataclass
class TokenRecord:
    """One bearer credential: `expires_at` in clock seconds (None = never), `client_id` it was issued to."""

    token_id: str
    client_id: str
    expires_at: float | None
    revoked: bool = False


class TokenStore:
    """Issue and check bearer credentials. Not thread-safe: the caller holds the state lock."""

    def __init__(
        self, clients: Mapping[str, str], api_keys: Iterable[str], ttl_s: float, clock: Callable[[], float]
    ) -> None:
        self._clients = dict(clients)
        self._api_keys = {key: TokenRecord(f"key_{n}", "api-key", None) for n, key in enumerate(api_keys, 1)}
        self.ttl_s = ttl_s
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        """Forget every issued token and zero the counters (API keys stay valid)."""
        self._tokens: dict[str, TokenRecord] = {}
        self.issued = 0
        self.revoked = 0
        self._expired_purged = 0

    def check_client(self, client_id: str, client_secret: str) -> bool:
        """True when `client_id` is known and `client_secret` matches (constant-time compare)."""
        expected = self._clients.get(client_id)
        return expected is not None and hmac.compare_digest(expected.encode(), client_secret.encode())

    def issue(self, client_id: str) -> tuple[str, TokenRecord]:
        """Mint a unique opaque token for `client_id`; returns `(token, record)`."""
        self.issued += 1
        if self.issued % SWEEP_EVERY == 0:
            self._sweep()
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = TokenRecord(f"tok_{self.issued:06d}", client_id, self._clock() + self.ttl_s)
        self._tokens[token] = record
        return token, record

    def validate(self, token: str) -> TokenRecord | None:
        """The record for a usable bearer value, or None when unknown, expired or revoked."""
        record = self._tokens.get(token) or self._api_keys.get(token)
        if record is None or record.revoked:
            return None
        if record.expires_at is not None and self._clock() >= record.expires_at:
            return None
        return record

    def revoke(self, client_id: str | None = None) -> int:
        """Revoke every live issued token (of `client_id` when given); returns how many were revoked."""
        now = self._clock()
        count = 0
        for record in self._tokens.values():
            live = not record.revoked and (record.expires_at is None or now < record.expires_at)
            if live and (client_id is None or record.client_id == client_id):
                record.revoked = True
                count += 1
        self.revoked += count
        return count

    def expired_count(self) -> int:
        """Issued tokens (not revoked) whose lifetime has ended, including purged ones."""
        now = self._clock()
        live_expired = sum(1 for r in self._tokens.values() if not r.revoked and now >= r.expires_at)  # type: ignore[operator]
        return self._expired_purged + live_expired

    def _sweep(self) -> None:
        now = self._clock()
        dead = [t for t, r in self._tokens.items() if r.revoked or now >= r.expires_at]  # type: ignore[operator]
        for token in dead:
            if not self._tokens.pop(token).revoked:
                self._expired_purged += 1
