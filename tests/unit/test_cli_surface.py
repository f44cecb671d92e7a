"""The command line's surface, without a server: MWSYNC_ variables (shown in help, flags parsed strictly),
logging (-v/-q/--log-format, redaction, quiet third parties), and what `mwsync --help` imports."""

from __future__ import annotations

import json
import logging

import click
import pytest
from click.testing import CliRunner

from mwsync.cli import cli
from mwsync.cli.logs import configure
from mwsync.redact import SECRETS
from tests.support import job_dict


def invoke(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)


def test_run_help_names_the_environment_variable_of_every_option():
    text = " ".join(invoke("run", "--help").output.split())
    for name in ("MWSYNC_PROFILE", "MWSYNC_API_URL", "MWSYNC_JOURNAL", "MWSYNC_STATE_DIR", "MWSYNC_REPORT",
                 "MWSYNC_JUNIT", "MWSYNC_HTML", "MWSYNC_DRY_RUN", "MWSYNC_LOG_FORMAT", "MWSYNC_VERBOSE"):
        assert f"env var: {name}" in text, name


# Options of one name that mean different things in two commands, so one of them names its own variable.
OWN_VARIABLES = {("loadtest", "--host"): "MWSYNC_LOADTEST_HOST", ("mock-server", "--users"): "MWSYNC_USERS_FILE"}


def _options():
    from mwsync.cli import COMMANDS, env_name

    ctx = click.Context(cli)
    for name in COMMANDS:
        for param in cli.get_command(ctx, name).params:
            if isinstance(param, click.Option):
                yield name, param, env_name(param)


def test_every_variable_is_named_after_its_option_and_one_variable_means_one_thing():
    meaning: dict[str, str] = {}
    for command, param, variable in _options():
        option = max((o for o in param.opts if o.startswith("--")), key=len)
        expected = OWN_VARIABLES.get((command, option), "MWSYNC_" + option[2:].replace("-", "_").upper())
        assert variable == expected, (command, option)
        assert meaning.setdefault(variable, option) == option, (command, variable)


def test_help_names_each_variable_once():
    for command in ("run", "status", "resolve", "loadtest", "mock-server"):
        text = " ".join(invoke(command, "--help").output.split())
        for name in ("MWSYNC_JOURNAL", "MWSYNC_LIMITER", "MWSYNC_STATE_DIR", "MWSYNC_LEASE_S"):
            assert text.count(name) <= 1, (command, name)


def test_a_renamed_variable_reaches_its_option(write_job, tmp_path):
    """`replay --job` reads MWSYNC_JOB (click's own name would have been MWSYNC_JOB_PATH)."""
    rows = tmp_path / "rows.jsonl"
    rows.write_text("")
    result = invoke("replay", rows, "--dry-run", env={"MWSYNC_JOB": str(tmp_path / "missing.yaml")})
    assert result.exit_code == 2
    assert "missing.yaml" in result.output


def test_an_option_comes_from_the_environment(write_job):
    path = write_job(job_dict())
    result = invoke("plan", path, env={"MWSYNC_THROTTLE": "1/60", "MWSYNC_JSON": "yes"})
    assert result.exit_code == 0, result.output
    [entry] = json.loads(result.output)["jobs"]
    assert entry["profile"] == "custom (1/60s)"


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes", "No", "0", "false"])
def test_a_flag_from_the_environment_accepts_true_false_1_0_yes_no(write_job, value):
    result = invoke("plan", write_job(job_dict()), env={"MWSYNC_JSON": value})
    assert result.exit_code == 0, result.output
    assert result.output.startswith("{") == (value.lower() in ("true", "1", "yes"))


@pytest.mark.parametrize("value", ["maybe", "on", "y", "2"])
def test_any_other_flag_value_is_a_usage_error_naming_the_variable(write_job, value):
    result = invoke("run", write_job(job_dict()), env={"MWSYNC_DRY_RUN": value})
    assert result.exit_code == 2
    assert f"MWSYNC_DRY_RUN='{value}': not a boolean for --dry-run" in result.output


def test_the_state_dir_variable_still_works(write_job, tmp_path):
    result = invoke("status", write_job(job_dict()), env={"MWSYNC_STATE_DIR": str(tmp_path / "state")})
    assert f"no journal yet ({tmp_path / 'state'}" in result.output


def test_version_is_not_read_from_the_environment():
    assert invoke("--help", env={"MWSYNC_VERSION": "1.2.3"}).output.startswith("Usage:")


@pytest.fixture
def logs():
    """The root handler `configure` installs, removed afterwards."""
    handlers = []
    yield handlers
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, "mwsync", False)]:
        root.removeHandler(h)
    logging.getLogger("mwsync").setLevel(logging.NOTSET)


def test_json_log_lines_are_redacted_and_third_parties_stay_quiet(logs, capsys):
    SECRETS.add("sekrit-token-value")
    configure("debug", "json")
    logging.getLogger("mwsync.send").debug("token %s issued", "sekrit-token-value", extra={"job": "j"})
    logging.getLogger("requests_oauthlib.oauth2_session").debug("body client_secret=sekrit-token-value")
    logging.getLogger("urllib3.connectionpool").info("connection to api")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert (record["level"], record["logger"], record["message"], record["job"]) == (
        "debug", "mwsync.send", "token [redacted] issued", "j")


@pytest.mark.parametrize(("level", "shown"), [("debug", ["d", "i", "w", "e"]), ("info", ["i", "w", "e"]),
                                              ("error", ["e"])], ids=["-v", "default", "-q"])
def test_levels(logs, capsys, level, shown):
    configure(level, "text")
    log = logging.getLogger("mwsync.x")
    log.debug("d"), log.info("i"), log.warning("w"), log.error("e")
    assert [line.rsplit(" ", 1)[-1] for line in capsys.readouterr().err.splitlines()] == shown


def test_v_and_q_together_are_a_usage_error():
    result = invoke("-v", "validate", "-q", "x.yaml")
    assert result.exit_code == 2 and "give -v or -q, not both" in result.output


def test_every_guide_help_names_is_a_topic_of_mwsync_docs():
    import re
    from pathlib import Path

    from mwsync.cli.inspect import DOC_TOPICS

    root = Path(__file__).resolve().parents[2]
    assert sorted(DOC_TOPICS) == sorted(p.stem for p in (root / "docs").glob("*.md"))
    named = set()
    for folder in ("runner", "mock_server", "schema"):
        for path in (root / folder).rglob("*.*"):
            if path.suffix in (".py", ".json"):
                named |= set(re.findall(r"mwsync docs ([a-z-]+)", path.read_text(encoding="utf-8")))
                assert "docs/" not in re.sub(r'"""[\s\S]*?"""|#.*', "", path.read_text(encoding="utf-8")), path
    assert named and named <= set(DOC_TOPICS)
    assert invoke("docs", "guarantees").output.startswith("#")


def test_an_unexpected_exception_is_an_error_line_and_a_report_not_a_traceback(write_job, tmp_path, monkeypatch):
    import mwsync.pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(mwsync.pipeline, "run_jobs", broken)
    report = tmp_path / "r.json"
    result = CliRunner().invoke(cli, ["run", str(write_job(job_dict())), "--report", str(report)])
    assert result.exit_code == 4 and result.exception is None or isinstance(result.exception, SystemExit)
    assert "internal error (a bug in mwsync" in result.output and "RuntimeError: boom" in result.output
    assert "Traceback" not in result.output
    document = json.loads(report.read_text())
    assert document["exit_code"] == 4 and "RuntimeError: boom" in document["error"]["message"]
    # other commands too; and click's own exits still work
    monkeypatch.setattr(mwsync.pipeline, "plan_jobs", broken)
    planned = CliRunner().invoke(cli, ["plan", str(write_job(job_dict()))])
    assert planned.exit_code == 4 and "RuntimeError: boom" in planned.output
    assert CliRunner().invoke(cli, ["run", "--help"]).exit_code == 0
    assert CliRunner().invoke(cli, ["run"]).exit_code == 2
