"""Start-up is behaviour, not timing: `mwsync --help`, `validate` and `plan` import only what they use (the
figures are benchmarks/startup.py's, in docs/benchmarks.md). Each command runs in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support import REPO

HEAVY = ("uvicorn", "falcon", "locust", "requests", "rich", "oauthlib")
PROBE = """
import json, sys
from mwsync.cli import cli
try:
    cli(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy})))
"""


@pytest.mark.parametrize("args", [["--help"], ["validate", "jobs/password-expiry.yaml"],
                                  ["plan", "jobs/password-expiry.yaml"], ["schema"]],
                         ids=["help", "validate", "plan", "schema"])
def test_commands_that_send_nothing_import_no_web_stack_no_requests_no_rich(args):
    code = PROBE.format(heavy=set(HEAVY))
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.splitlines()[-1]) == []


def test_importing_the_cli_imports_no_stage():
    stages = ('mwsync.config', 'mwsync.pipeline', 'pydantic', 'jinja2', 'uvicorn', 'falcon', 'locust')
    code = f"import json, sys, mwsync.cli; print(json.dumps(sorted(m for m in sys.modules if m.startswith({stages}))))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
