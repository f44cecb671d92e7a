"""`--junit`: the run as JUnit XML (standard library only), valid against the common JUnit XSDs: Jenkins
xUnit's `junit-10.xsd` (what pytest checks its own output against) and Apache Ant's `JUnit.xsd`.

    <testsuites>
      <testsuite name="mwsync.<job>" package="mwsync" id="0" tests failures errors="0" time timestamp hostname>
        <properties><property name="target" value="..."/> ...</properties>
        <testcase classname="mwsync.<job>" name="delivery" time/>            one case: every message of the job
        <testcase classname="mwsync.<job>" name="<job>: row 12, key pwd-1042: INVALID_EVENT_ID" time="0">
          <failure type="INVALID_EVENT_ID" message="failed: 404 ...">{the failure as JSON}</failure>
        </testcase>                                                          one per failed/unknown message
        <system-out>{the job's message counts as JSON}</system-out><system-err/>
      </testsuite>
    </testsuites>

A job whose every message was sent is one passing case; each failed, unknown or invalid message is a
failing case whose name carries job, row, key and the API's error code (CI pages show names), and a
run stopped by an error before sending is one suite with one failing case carrying that error.
Everything passes through the redaction filter.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from .errors import MwsyncError
from .redact import redact

#: Characters XML 1.0 forbids even escaped (ElementTree writes them raw, and the file stops parsing).
XML_ILLEGAL = re.compile("[^\\x09\\x0a\\x0d\\x20-\\ud7ff\\ue000-\\ufffd\\U00010000-\\U0010ffff]")


def _case_name(job: str, failure: dict) -> str:
    """`<job>: row 12, key pwd-1042: INVALID_EVENT_ID` (row, key and code when known)."""
    parts = [f"row {failure['row']}" if failure.get("row") is not None else "",
             f"key {failure['key']}" if failure.get("key") else ""]
    where = ", ".join(p for p in parts if p) or "message"
    code = failure.get("code") or (str(failure["status"]) if failure.get("status") else failure["state"])
    return f"{job}: {where}: {code}"


def _suite(parent: ET.Element, index: int, name: str, seconds: float, properties: dict[str, str]) -> ET.Element:
    suite = ET.SubElement(parent, "testsuite", name=name, package="mwsync", id=str(index), tests="0",
                          failures="0", errors="0", time=f"{seconds:.3f}",
                          timestamp=dt.datetime.now().replace(microsecond=0).isoformat(),
                          hostname=socket.gethostname() or "localhost")
    props = ET.SubElement(suite, "properties")
    for key, value in properties.items():
        ET.SubElement(props, "property", name=key, value=str(value))
    return suite


def _case(suite: ET.Element, classname: str, name: str, seconds: float = 0.0,
          failure: tuple[str, str, str] | None = None) -> None:
    """Add a test case; `failure` is `(type, message, text)`. Keeps the suite's counts."""
    case = ET.SubElement(suite, "testcase", classname=classname, name=name, time=f"{seconds:.3f}")
    suite.set("tests", str(int(suite.get("tests")) + 1))
    if failure is not None:
        kind, message, text = failure
        element = ET.SubElement(case, "failure", type=kind, message=message)
        element.text = text
        suite.set("failures", str(int(suite.get("failures")) + 1))


def _close(suite: ET.Element, out: str = "") -> None:
    ET.SubElement(suite, "system-out").text = out
    ET.SubElement(suite, "system-err")


def junit_text(reports: Sequence, error: MwsyncError | None = None) -> str:
    """The `--junit` document (module docstring) for `reports` (`JobReport`s), or for the `error` that
    stopped the run before sending; redacted."""
    root = ET.Element("testsuites")
    if error is not None and not reports:
        suite = _suite(root, 0, "mwsync", 0.0, {"exit_code": str(error.exit_code)})
        kind = error.__class__.__name__
        _case(suite, "mwsync", f"run: {kind}", failure=(kind, f"{kind} (exit {error.exit_code})", str(error)))
        _close(suite)
    for index, report in enumerate(reports):
        classname = f"mwsync.{report.job}"
        suite = _suite(root, index, classname, report.duration_s,
                       {"job_file": report.file, "target": report.target, "profile": report.profile["name"],
                        "exit_code": str(report.exit_code)})
        stopped = ("stopped", f"stopped: {report.stopped}", report.stopped) if report.stopped else None
        _case(suite, classname, "delivery", report.duration_s, stopped)
        for failure in report.failures:
            code = failure.get("code") or failure["state"]
            message = f"{failure['state']}: {failure.get('error') or ''}"
            _case(suite, classname, _case_name(report.job, failure),
                  failure=(code, message, json.dumps(failure, ensure_ascii=False)))
        _close(suite, json.dumps(report.messages))
    ET.indent(root)
    text = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
    return redact(XML_ILLEGAL.sub("\ufffd", text)) + "\n"
