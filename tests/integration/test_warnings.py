"""`mwsync plan` and `mwsync run` agree on every warning for the same job and target, in-process.

The 120/min warning is for a tenant only: the embedded mock and a server on 127.0.0.1 have their own
limits. A tenant cannot be sent to here, so `run` against it is a `--dry-run`, whose `--report` carries the
same warnings a real run would.
"""

from __future__ import annotations

import json

import pytest

from tests.support import job_dict, rows

TENANT = "https://api.moveworks.ai"
CREDENTIALS = {"client_id": "${MW_CLIENT_ID}", "client_secret": "${MW_CLIENT_SECRET}"}
RATE_WARNING = ("profile ongoing (500/60s) exceeds Moveworks' default 120/min: a tenant without a raised limit "
                "answers 429s (recovered, but slower)")


def plan_warnings(mwsync, path) -> tuple[list[str], list[str]]:
    """`mwsync plan --json` warnings, and the `warning:` lines `mwsync plan` prints."""
    as_json = mwsync("plan", "--json", path)
    assert as_json.exit_code == 0, as_json.output
    [entry] = json.loads(as_json.output)["jobs"]
    printed = mwsync("plan", path)
    return entry["warnings"], warning_lines(printed.output)


def run_warnings(mwsync, path, tmp_path, *args) -> tuple[list[str], list[str]]:
    """`mwsync run ... --report` warnings, and the `warning:` lines it prints."""
    report = tmp_path / "report.json"
    result = mwsync("run", path, "--journal", tmp_path / "journal.sqlite", "--report", report, *args)
    assert result.exit_code == 0, result.output
    [job] = json.loads(report.read_text())["jobs"]
    return job["warnings"], warning_lines(result.output)


def warning_lines(output: str) -> list[str]:
    lines = (line.strip() for line in output.splitlines())
    return [line.removeprefix("warning: ") for line in lines if line.startswith("warning:")]


@pytest.mark.parametrize(("target", "profile", "expected"), [
    ("embedded", "ongoing", []),
    ("loopback", "ongoing", []),
    ("tenant", "ongoing", [RATE_WARNING]),
    ("tenant", "initial", []),
], ids=["embedded", "loopback-127.0.0.1", "tenant-over-120-per-min", "tenant-within-120-per-min"])
def test_plan_and_run_give_the_same_warnings_for_the_same_target(request, mwsync, write_job, tmp_path, target,
                                                                   profile, expected):
    run_args: tuple[str, ...] = ()
    if target == "embedded":
        subscription = {"api_url": "embedded"}
    elif target == "loopback":
        url = request.getfixturevalue("mock").url
        subscription, run_args = {"api_url": url, **CREDENTIALS}, ("--api-url", url)
    else:
        subscription, run_args = {"api_url": TENANT, **CREDENTIALS}, ("--dry-run",)
    path = write_job(job_dict(subscription=subscription, throttle={"profile": profile}))

    planned, plan_printed = plan_warnings(mwsync, path)
    ran, run_printed = run_warnings(mwsync, path, tmp_path, *run_args)

    assert planned == ran == expected
    assert plan_printed == run_printed == expected
    if target == "loopback":
        assert len(request.getfixturevalue("mock").messages()) == 5  # `run` did send: the comparison is real


@pytest.mark.parametrize("source", [{"rows": rows(2) + rows(1)}, {"rows": []}], ids=["repeated-key", "no-rows"])
def test_plan_and_run_agree_on_warnings_about_the_rows(mwsync, write_job, tmp_path, source):
    path = write_job(job_dict(source=source))
    planned, _ = plan_warnings(mwsync, path)
    ran, _ = run_warnings(mwsync, path, tmp_path, "--dry-run")
    assert ran, "run warns about these rows"
    assert planned == ran
