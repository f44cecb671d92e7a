"""`--junit` validates against the common JUnit XSD: Jenkins xUnit's `junit-10.xsd`, the schema pytest checks
its own JUnit output against. It is not committed here (third-party files stay out of this repository): the
test takes it from pytest's source distribution on the package index, through pip, once per venv
(`<venv>/share/mwsync-tests/junit-10.xsd`). Without the index it is skipped, but fails in CI."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
import xmlschema

from mwsync.errors import InvalidMessages, Problem
from mwsync.junit import junit_text
from tests.unit.test_reports_render import _report

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CACHE = Path(sys.prefix) / "share" / "mwsync-tests" / "junit-10.xsd"


def junit_xsd() -> Path:
    """junit-10.xsd from pytest's sdist (`testing/example_scripts/junit-10.xsd`), downloaded by pip once."""
    if CACHE.exists():
        return CACHE
    version = importlib.metadata.version("pytest")
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        "-d", folder, f"pytest=={version}"], check=True, capture_output=True, timeout=300)
        [sdist] = Path(folder).glob("pytest-*.tar.gz")
        with tarfile.open(sdist) as archive:
            member = archive.extractfile(f"pytest-{version}/testing/example_scripts/junit-10.xsd")
            CACHE.parent.mkdir(parents=True, exist_ok=True)
            CACHE.write_bytes(member.read())
    return CACHE


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    try:
        return xmlschema.XMLSchema(str(junit_xsd()))
    except (subprocess.SubprocessError, OSError) as exc:
        if IN_CI:
            raise
        pytest.skip(f"junit-10.xsd could not be fetched from the package index: {exc}")


def test_a_run_with_failures_is_valid_junit(schema):
    schema.validate(junit_text([_report(), _report(job="other", failures=[], stopped="interrupted (SIGTERM)")]))


def test_a_run_stopped_before_sending_is_valid_junit(schema):
    error = InvalidMessages([Problem("data.csv", "message.recipients", "'x' is not a valid e-mail", row=3)])
    schema.validate(junit_text([], error))


def test_junit_xml_1_9s_disabled_attribute_is_what_the_schema_refuses(schema):
    """The reason mwsync no longer uses junit-xml: it writes `disabled` on <testsuites>."""
    assert not schema.is_valid('<testsuites disabled="0"><testsuite name="x" tests="0" failures="0" errors="0"/>'
                               '</testsuites>')
