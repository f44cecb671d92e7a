"""Schemathesis against the mock's own `/openapi.json` (slow tier): no 5xx, no undocumented status, no
schema mismatch, invalid input refused. Two servers, so fault specs Schemathesis posts to `/_mock/faults`
never reach the Moveworks endpoints it tests on the other."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mwsync.mock_server import MockServer

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
          "response_schema_conformance,negative_data_rejection,unsupported_method,allow_header_conformance")
API_KEY = "schemathesis-key"
MAX_EXAMPLES = "150"


def _schemathesis(url: str, tag: str, tmp_path: Path) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).with_name("schemathesis")), "run", f"{url}/openapi.json", "--include-tag", tag,
               "-H", f"Authorization: Bearer {API_KEY}", "--checks", CHECKS, "-n", MAX_EXAMPLES, "--seed", "13",
               "--no-shrink"]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=tmp_path, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("tag", ["moveworks", "mock"])
def test_schemathesis_finds_nothing(tmp_path, tag):
    if shutil.which("schemathesis", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("schemathesis is not installed: pip install -e '.[test]'")
    with MockServer(rate_limit=None, api_keys=[API_KEY]) as srv:
        done = _schemathesis(srv.url, tag, tmp_path)
        stats = srv.stats()
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "No issues found" in done.stdout, done.stdout[-3000:]
    assert stats["requests"] > 100 or tag == "mock"
