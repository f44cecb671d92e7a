"""The secret scan: every cassette in the repository is clean, and a planted secret is caught.

Rules in `cassette_scan`; what the scrubber replaces in `mwsync.mock_server.cassettes` (docs/recording.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cassette_scan import find_cassettes, scan_cassette

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "tests" / "cassettes" / "test_recorded_send" / "test_send_is_received.yaml"
TENANT_SECRET = "tenant-secret-0f3a9c"


def test_no_cassette_in_the_repository_holds_a_secret():
    cassettes = find_cassettes(ROOT)

    findings = [finding for path in cassettes for finding in scan_cassette(path)]

    assert cassettes, "no cassettes found: the scan would pass vacuously"
    assert not findings, "secrets in cassettes (scrub them, or re-record):\n" + "\n".join(map(str, findings))


PLANTED = [
    pytest.param("Bearer recorded-access-token", "Bearer 8f14e45fceea167a5a36dedd4bea2543", "bearer", id="bearer"),
    pytest.param('"access_token": "recorded-access-token"', '"access_token": "mwt_Zx81kQ"', "mwt-token",
                 id="mwt-token"),
    pytest.param('"access_token": "recorded-access-token"', '"access_token": "opaque-7Hq2"',
                 "unscrubbed:access_token", id="opaque-access-token"),
    pytest.param("client_secret=recorded-client-secret", "client_secret=mwsync-demo-secret", "demo-secret",
                 id="demo-secret"),
    pytest.param("client_secret=recorded-client-secret", f"client_secret={TENANT_SECRET}",
                 "env:MOVEWORKS_CLIENT_SECRET", id="moveworks-env-value"),
    pytest.param("ada@example.com", "ada.lovelace@corp.io", "email", id="real-email"),
]


#: A short `MOVEWORKS_*` value ("us") is ignored: it would match everywhere.
ENVIRON = {"MOVEWORKS_CLIENT_SECRET": TENANT_SECRET, "MOVEWORKS_REGION": "us"}


def plant(tmp_path: Path, original: str, planted: str) -> Path:
    """A copy of a clean cassette under `tmp_path/cassettes/` with `original` replaced by `planted`."""
    cassette = tmp_path / "cassettes" / "planted.yaml"
    cassette.parent.mkdir()
    shutil.copy(SAMPLE, cassette)
    assert scan_cassette(cassette, ENVIRON) == []
    text = cassette.read_text("utf-8")
    assert original in text
    cassette.write_text(text.replace(original, planted), "utf-8")
    return cassette


@pytest.mark.parametrize("original, planted, rule", PLANTED)
def test_scan_catches_a_planted_secret(tmp_path, original, planted, rule):
    cassette = plant(tmp_path, original, planted)

    findings = scan_cassette(cassette, ENVIRON)

    assert rule in {finding.rule for finding in findings}
    assert find_cassettes(tmp_path) == [cassette]


def test_findings_mask_the_secret(tmp_path):
    cassette = plant(tmp_path, "client_secret=recorded-client-secret", f"client_secret={TENANT_SECRET}")

    findings = scan_cassette(cassette, ENVIRON)

    assert findings and all(TENANT_SECRET not in str(finding) for finding in findings)
