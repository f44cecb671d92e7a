"""The journal: one run per job at a time, foreign files refused, states recorded before and after sends."""

from __future__ import annotations

import sqlite3

import pytest

from mwsync.errors import JournalError
from mwsync.journal import SqliteJournal as Journal
from mwsync.records import Batch, Delivery, SendResult


def batch(*recipients, key="k"):
    return Batch("e", "t", {}, tuple(Delivery(key, r, "h", 1) for r in recipients))


def test_second_run_of_the_same_job_is_refused_until_the_first_ends(tmp_path):
    path = tmp_path / "j.sqlite"
    first = Journal(path, target="t", job="job")
    with pytest.raises(JournalError, match="being sent by mwsync pid"):
        Journal(path, target="t", job="job")
    other_job = Journal(path, target="t", job="other")  # another job may share the file
    reader = Journal(path, target="t", job="job", exclusive=False)  # `mwsync status` only reads
    for journal in (first, other_job, reader):
        journal.close()
    Journal(path, target="t", job="job").close()


def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE foo (x)")
    with pytest.raises(JournalError, match="not an mwsync journal"):
        Journal(path, target="t", job="job")
    with sqlite3.connect(path) as db:
        assert [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["foo"]


def test_garbage_file_is_a_clear_error(tmp_path):
    path = tmp_path / "garbage.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(JournalError, match="is not an SQLite file, so not an mwsync journal"):
        Journal(path, target="t", job="job")


def test_pending_before_the_request_and_outcome_after(tmp_path):
    journal = Journal(tmp_path / "j.sqlite", target="t", job="job")
    request_id = journal.begin(batch("a@example.com", "b@example.com"))
    assert journal.lookup("k") == {"a@example.com": ("pending", "h"), "b@example.com": ("pending", "h")}
    journal.finish(request_id, SendResult("sent", 200, 1))
    assert journal.counts() == {"messages": {"sent": 1}, "deliveries": {"sent": 2}}
    journal.begin(batch("c@example.com", key="k2"))
    journal.close()
    again = Journal(tmp_path / "j.sqlite", target="t", job="job")
    assert again.recover() == 1  # the interrupted run's pending delivery is now in doubt
    assert again.lookup("k2") == {"c@example.com": ("unknown", "h")}
    again.close()
