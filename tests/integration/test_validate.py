"""`mwsync validate` in-process: a bad pinned date is a job-file problem (exit 2) naming the key and its line."""

from __future__ import annotations

import pytest

from tests.support import EVENT_ID

JOB = f"""\
name: bad-date
message:
  event_id: {EVENT_ID}
  text: "Hi {{{{ name }}}}"
  recipients: "{{{{ email }}}}"
source:
  rows:
    - {{name: A, email: a@example.com}}
"""


@pytest.mark.parametrize(("vars_block", "line"), [
    ("vars: {today: 2026-13-45}\n", 9),
    ("vars:\n  days: 7\n  today: 2026-13-45\n", 11),
], ids=["flow-mapping", "block-mapping"])
def test_an_impossible_pinned_date_exits_2_naming_vars_today_and_its_line(mwsync, write_job, vars_block, line):
    path = write_job(JOB + vars_block)
    result = mwsync("validate", path)
    assert result.exit_code == 2, result.output
    assert f"{path}:{line}: vars.today: '2026-13-45' is not a date YYYY-MM-DD" in result.output
    assert "Traceback" not in result.output


def test_a_valid_pinned_date_validates(mwsync, write_job):
    result = mwsync("validate", write_job(JOB + "vars: {today: 2026-12-31}\n"))
    assert result.exit_code == 0 and ": ok (bad-date" in result.output


def test_a_job_file_that_is_a_device_a_fifo_or_huge_is_refused_without_reading_it(mwsync, tmp_path):
    """`validate /dev/zero` was killed by the OOM killer at 24 GB; a FIFO hung for ever."""
    import os

    fifo = tmp_path / "job.yaml"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"# " + b"a" * 17_000_000)
    for path, fragment in (("/dev/zero", "is a device, not a regular file"),
                           (fifo, "is a FIFO, not a regular file"), (huge, "the job file is over 16 MB")):
        result = mwsync("validate", path)
        assert result.exit_code == 2 and fragment in result.output, result.output


@pytest.mark.parametrize("templates_dir, template", [("/proc/self", "environ"),
                                                     ("../../../../../../proc/self", "environ")])
def test_no_template_is_read_from_proc_however_templates_dir_reaches_it(mwsync, write_job, templates_dir, template):
    """An absolute templates_dir sidestepped the template-name check and sent /proc/self/environ's secrets."""
    path = write_job(JOB.replace("  text: \"Hi {{ name }}\"\n", f"  template: {template}\n")
                     .replace("name: bad-date\n", f"name: t\ntemplates_dir: {templates_dir}\n"))
    result = mwsync("preview", path)
    assert result.exit_code == 2 and "is under /proc" in result.output, result.output
    assert "PATH=" not in result.output


@pytest.mark.parametrize("tag", ["{% include 'other.j2' %}", "{% extends 'base.j2' %}", "{% import 'm.j2' as m %}"])
def test_validate_refuses_what_would_fail_on_every_row(mwsync, write_job, tag):
    """An include passed validate, then every row failed with 'no loader for this environment'."""
    path = write_job(JOB.replace('  text: "Hi {{ name }}"', f'  text: "Hi {tag}"'))
    result = mwsync("validate", path)
    assert result.exit_code == 2 and "is not available: a message template is one file" in result.output
