"""Where a run's state lives (`mwsync.state`), pure: the journal's precedence (flag, job file, state dir),
the CI guard's decision, the limiter per target, `journal:`/`limiter:` in job files with passwords only from
the environment, and URLs shown without their password."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from mwsync.config import load_job
from mwsync.errors import ConfigError, UsageError
from mwsync.redact import SECRETS, url_without_password
from mwsync.state import check_ci_journal, in_ci, journal_location, limiter_location
from tests.support import job_dict, make_job

TENANT = {"api_url": "https://api.moveworks.ai"}


@dataclass(frozen=True)
class Options:
    journal: str | Path | None = None
    state_dir: Path | None = None
    limiter: str | None = None
    lease_s: float | None = None
    new_journal: bool = False


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("YES", True), ("on", True),
                                                 ("false", False), ("0", False), ("", False)])
def test_ci_is_a_true_value_of_the_ci_variable(value, expected):
    assert in_ci({"CI": value}) is expected


def test_the_journal_flag_wins_over_the_job_file_which_wins_over_the_state_dir(tmp_path):
    job = make_job(path=tmp_path / "job.yaml", journal=tmp_path / "from-file.sqlite")
    url = "postgresql://mwsync@db:5432/mwsync"
    assert journal_location(job, Options(journal=url)) == url
    assert journal_location(job, Options(state_dir=tmp_path / "s")) == tmp_path / "from-file.sqlite"
    bare = make_job(path=tmp_path / "job.yaml")
    assert journal_location(bare, Options(state_dir=tmp_path / "s")) == tmp_path / "s" / "journal" / "test-job.sqlite"
    assert journal_location(bare, Options()) == tmp_path / ".mwsync" / "journal" / "test-job.sqlite"


def test_the_ci_guard_refuses_only_a_new_local_journal_against_a_real_target(tmp_path):
    tenant = make_job(subscription=TENANT)
    new, ci = tmp_path / "new.sqlite", {"CI": "true"}
    with pytest.raises(UsageError, match="this runner's journal will not outlive it"):
        check_ci_journal(tenant, new, Options(), ci)
    check_ci_journal(tenant, new, Options(new_journal=True), ci)  # confirmed first send
    check_ci_journal(tenant, "postgresql://mwsync@db/mwsync", Options(), ci)  # shared
    check_ci_journal(make_job(), new, Options(), ci)  # the embedded mock
    check_ci_journal(tenant, new, Options(), {})  # not CI
    new.write_bytes(b"x")
    check_ci_journal(tenant, new, Options(), ci)  # restored from a cache


def test_the_embedded_target_keeps_its_limiter_in_process():
    jobs = [make_job(), make_job(subscription=TENANT, limiter="redis://r:6379/0")]
    assert limiter_location(jobs, Options(limiter="redis://flag:6379/0"), "embedded") is None
    assert limiter_location(jobs, Options(), "https://api.moveworks.ai") == "redis://r:6379/0"
    assert limiter_location(jobs, Options(limiter="redis://flag:6379/0"), "https://api.moveworks.ai") == \
        "redis://flag:6379/0"


def test_a_url_is_shown_without_its_password_and_the_password_is_redacted_everywhere():
    shown = url_without_password("postgresql://mwsync:p%40ss-word-1@db:5432/mwsync?sslmode=require")
    assert shown == "postgresql://mwsync@db:5432/mwsync?sslmode=require"
    assert SECRETS.redact("echo p@ss-word-1 p%40ss-word-1") == "echo [redacted] [redacted]"
    assert url_without_password("redis://:tok-secret-9@r:6379/0") == "redis://r:6379/0"
    assert url_without_password("postgresql://db/x?password=qs-secret-7") == "postgresql://db/x"
    assert "qs-secret-7" not in SECRETS.redact("qs-secret-7")


@pytest.mark.parametrize("url", ["postgresql://mwsync:hunter2@db:5432/mwsync",
                                 "postgresql://mwsync:${PW:-hunter2}@db:5432/mwsync"],
                         ids=["literal", "default-is-a-literal"])
def test_a_password_in_the_job_files_journal_must_be_an_environment_reference(write_job, url):
    path = write_job(job_dict(journal=url))
    with pytest.raises(ConfigError, match="journal: the password in the journal URL must be exactly one") as caught:
        load_job(path, environ={"PW": "x"})
    assert "hunter2" not in str(caught.value)


def test_the_job_files_journal_and_limiter_are_resolved(write_job, tmp_path):
    path = write_job(job_dict(journal="state/journal.sqlite", limiter="redis://:${REDIS_PW}@r:6379/0"))
    job = load_job(path, environ={"REDIS_PW": "redis-pw-secret"})
    assert job.journal == tmp_path / "state" / "journal.sqlite"
    assert job.limiter == "redis://:redis-pw-secret@r:6379/0"
    assert SECRETS.redact("redis-pw-secret") == "[redacted]"
    url = write_job(job_dict(journal="${MWSYNC_TEST_URL}"), name="b.yaml")
    assert load_job(url, environ={"MWSYNC_TEST_URL": "postgresql://u:whole-url-pw@h/db"}).journal == \
        "postgresql://u:whole-url-pw@h/db"
    assert SECRETS.redact("whole-url-pw") == "[redacted]"


def test_an_unknown_journal_or_limiter_scheme_is_a_job_file_error(write_job):
    path = write_job(job_dict(journal="mysql://db/x", limiter="memcached://m:1"))
    with pytest.raises(ConfigError) as caught:
        load_job(path, environ={})
    assert "journal: a journal is a file path or a postgresql://" in str(caught.value)
    assert "limiter: a shared limiter is a redis://" in str(caught.value)


def test_a_missing_client_library_names_the_extra_to_install(monkeypatch):
    import sys

    from mwsync.journal import open_journal
    from mwsync.send.throttle import open_limiter

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed: importing it raises ImportError
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(UsageError, match=r"the 'shared' extra\): pip install '(psycopg\[binary\]|redis)>="):
        open_journal("postgresql://mwsync@db/mwsync", target="t", job="j")
    with pytest.raises(UsageError, match=r"the 'shared' extra\): pip install '(psycopg\[binary\]|redis)>="):
        open_limiter("redis://r:6379/0", target="t", limit=10, window_s=2)
