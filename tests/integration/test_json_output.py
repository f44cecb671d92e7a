"""One JSON shape for every document: `{"mwsync", "exit_code", "error", "jobs": [...]}` from plan, validate,
status, preview and check --json, and from --report (also `--report -` on stdout, the summary on stderr);
each valid against the published schema/report.schema.json."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.support import REPO, job_dict, rows

SCHEMA = json.loads((REPO / "schema" / "report.schema.json").read_text())


def valid(document: dict, entry: str) -> dict:
    """`document` checked against the envelope, its jobs against `$defs/<entry>`; returns it."""
    schema = dict(SCHEMA, properties=dict(SCHEMA["properties"], jobs={"type": "array",
                                                                     "items": {"$ref": f"#/$defs/{entry}"}}))
    jsonschema.validate(document, schema)
    assert list(document) == ["mwsync", "exit_code", "error", "jobs"]
    return document


@pytest.mark.parametrize("command", ["plan", "validate", "status", "preview"])
def test_one_job_is_a_list_of_one(mwsync, write_job, command):
    result = mwsync(command, write_job(job_dict()), "--json")
    assert result.exit_code == 0, result.output
    doc = valid(json.loads(result.stdout), f"{command}_job")
    assert (doc["exit_code"], doc["error"], len(doc["jobs"])) == (0, None, 1)
    assert doc["jobs"][0]["job"] == "test-job"


def test_validate_json_lists_every_file_and_its_problems(mwsync, write_job):
    good = write_job(job_dict(), "good.yaml")
    bad = write_job(job_dict(throttle={"profile": "ongiong"}), "bad.yaml")
    result = mwsync("validate", good, bad, "--json")
    assert result.exit_code == 2
    doc = valid(json.loads(result.stdout), "validate_job")
    assert [(j["file"], j["ok"]) for j in doc["jobs"]] == [(str(good), True), (str(bad), False)]
    [problem] = doc["jobs"][1]["problems"]
    assert problem["where"] == "throttle.profile" and "unknown 'ongiong'" in problem["message"]
    assert doc["error"]["type"] == "ConfigError" and doc["error"]["problems"] == [problem]
    assert "unknown 'ongiong'" in result.stderr  # the human line still goes to stderr


def test_status_json_after_a_run(mwsync, write_job, mock, tmp_path):
    job = write_job(job_dict(source={"rows": rows(3)}))
    mwsync("run", job, "--api-url", mock.url, "--journal", tmp_path / "j.sqlite")
    result = mwsync("status", job, "--api-url", mock.url, "--journal", tmp_path / "j.sqlite", "--json")
    [entry] = valid(json.loads(result.stdout), "status_job")["jobs"]
    assert entry["messages"] == {"sent": 3} and entry["journal"]["exists"] and entry["in_doubt"] == []


def test_report_dash_writes_the_report_on_stdout_and_the_summary_on_stderr(mwsync, write_job, mock, tmp_path):
    job = write_job(job_dict(source={"rows": rows(4)}))
    result = mwsync("run", job, "--api-url", mock.url, "--journal", tmp_path / "j.sqlite", "--report", "-")
    assert result.exit_code == 0, result.output
    doc = valid(json.loads(result.stdout), "run_job")
    assert doc["jobs"][0]["messages"]["sent"] == 4
    assert "sent 4 messages" in result.stderr and not (tmp_path / "-").exists()


def test_junit_dash_writes_xml_on_stdout(mwsync, write_job, mock, tmp_path):
    result = mwsync("run", write_job(job_dict()), "--api-url", mock.url, "--journal", tmp_path / "j.sqlite",
                    "--junit", "-")
    assert result.stdout.startswith('<?xml version="1.0" encoding="utf-8"?>\n<testsuites>')
    both = mwsync("run", write_job(job_dict()), "--report", "-", "--junit", "-")
    assert both.exit_code == 2 and "would both write to stdout" in both.output


def test_a_report_of_an_error_before_sending_has_the_same_shape(mwsync, write_job, tmp_path):
    data = rows(2)
    data[0]["email"] = "broken"
    result = mwsync("run", write_job(job_dict(source={"rows": data})), "--report", "-")
    doc = valid(json.loads(result.stdout), "run_job")
    assert (doc["exit_code"], doc["jobs"], doc["error"]["type"]) == (2, [], "InvalidMessages")
    assert doc["error"]["problems"][0]["row"] == 1


def test_the_published_report_schema_is_current():
    from mwsync.report_schema import report_schema

    assert report_schema() == SCHEMA, "regenerate it: make schema"
