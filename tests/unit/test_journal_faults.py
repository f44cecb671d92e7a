"""The SQLite journal tells the truth or stops the run: empty, deleted, replaced, corrupt, read-only and full
journals raise `JournalError` (exit 4) naming the file and the cause, never a raw sqlite3 error, and a journal
that existed is never mistaken for a first run. Real SQLite files; nothing is mocked."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess

import pytest

from mwsync.errors import JournalError
from mwsync.journal import SqliteJournal
from mwsync.records import Batch, Delivery, SendResult


def batch(*recipients: str, key: str = "k") -> Batch:
    return Batch("e", "text", {}, tuple(Delivery(key, r, "h", 1) for r in recipients))


def journal(path, **kw) -> SqliteJournal:
    return SqliteJournal(path, target="t", job="job", **kw)


def sent_once(path) -> None:
    """A run that sent one message, then closed its journal."""
    j = journal(path)
    j.finish(j.begin(batch("a@example.com")), SendResult("sent", 200, 1))
    j.close()


def test_an_emptied_journal_is_refused_not_taken_for_a_first_run(tmp_path):
    path = tmp_path / "j.sqlite"
    sent_once(path)
    path.write_bytes(b"")  # `: > journal.sqlite`
    with pytest.raises(JournalError, match=r"the journal is empty \(0 bytes\).*--new-journal") as info:
        journal(path)
    assert info.value.exit_code == 4
    fresh = journal(path, create=True)  # the user confirms starting over
    assert fresh.created and fresh.lookup("k") == {}
    fresh.close()


def test_a_deleted_journal_is_remembered_by_its_lock_file(tmp_path):
    path = tmp_path / "j.sqlite"
    sent_once(path)
    path.unlink()
    with pytest.raises(JournalError, match="the journal is gone, but a run of job 'job' used it before"):
        journal(path)
    assert not path.exists(), "a refused open must not leave a new empty journal behind"
    journal(path, create=True).close()


def test_deleting_the_journal_with_a_glob_keeps_its_memory(tmp_path):
    """`rm j.sqlite*` took the lock file with it, and the next run sent everything again."""
    path = tmp_path / "j.sqlite"
    sent_once(path)
    for leftover in tmp_path.glob("j.sqlite*"):
        leftover.unlink()
    with pytest.raises(JournalError, match="the journal is gone, but a run of job 'job' used it before"):
        journal(path)


def test_a_lock_file_where_the_first_version_kept_it_is_still_remembered(tmp_path):
    path = tmp_path / "j.sqlite"
    sent_once(path)
    (tmp_path / ".j.sqlite.job.lock").rename(tmp_path / "j.sqlite.job.lock")
    path.unlink()
    with pytest.raises(JournalError, match="the journal is gone"):
        journal(path)


def test_a_journal_replaced_between_runs_is_refused(tmp_path):
    path, other = tmp_path / "j.sqlite", tmp_path / "other.sqlite"
    sent_once(path)
    journal(other, exclusive=False).close()
    os.replace(other, path)
    with pytest.raises(JournalError, match="not the journal earlier runs of job 'job' used"):
        journal(path)


def test_a_first_run_with_no_journal_and_no_lock_file_creates_one(tmp_path):
    j = journal(tmp_path / "state" / "j.sqlite")
    assert j.created and j.lookup("k") == {}
    j.close()


@pytest.mark.parametrize("change", ["delete", "empty", "replace"])
def test_a_journal_changed_during_the_run_stops_the_next_write(tmp_path, change):
    path = tmp_path / "j.sqlite"
    j = journal(path)
    j.finish(j.begin(batch("a@example.com")), SendResult("sent", 200, 1))
    if change == "delete":
        path.unlink()
    elif change == "empty":
        path.write_bytes(b"")
    else:
        shutil.copy(path, tmp_path / "copy.sqlite")
        os.replace(tmp_path / "copy.sqlite", path)
    word = {"delete": "deleted", "empty": "emptied", "replace": "replaced"}[change]
    with pytest.raises(JournalError, match=f"the journal was {word} during the run; nothing more is sent"):
        j.begin(batch("b@example.com"))
    j.close()


def test_a_corrupt_journal_is_a_journal_error_not_a_sqlite_traceback(tmp_path):
    path = tmp_path / "j.sqlite"
    j = journal(path)
    for i in range(300):  # enough rows for several pages
        j.finish(j.begin(batch(f"user{i}@example.com", key=f"k{i}")), SendResult("sent", 200, 1))
    j.close()
    data = bytearray(path.read_bytes())
    data[4096:len(data)] = b"\xff" * (len(data) - 4096)  # every page but the first
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match="corrupt") as info:
        j = journal(path)
        j.lookup("k7")
    assert not isinstance(info.value, sqlite3.Error)


def test_a_full_disk_is_a_journal_error(tmp_path):
    j = journal(tmp_path / "j.sqlite")
    j._db.execute("PRAGMA max_page_count = 8")  # SQLite's own "database or disk is full" at 8 pages
    with pytest.raises(JournalError, match="the disk is full"):
        for i in range(2000):
            j.begin(batch(f"user{i}@example.com", key=f"k{i}"))
    j.close()


def test_the_sqlite_file_alone_holds_every_committed_row(tmp_path):
    """A CI cache that keeps only `*.sqlite`, even after a kill: rollback journal mode, no -wal file."""
    path = tmp_path / "j.sqlite"
    j = journal(path)
    j.finish(j.begin(batch("a@example.com")), SendResult("sent", 200, 1))
    j.begin(batch("b@example.com", key="k2"))  # in flight when the process dies
    kept = tmp_path / "cache" / "j.sqlite"
    kept.parent.mkdir()
    shutil.copy(path, kept)  # while still open: what a kill would leave
    j.close()
    assert not list(tmp_path.glob("*-wal"))
    with sqlite3.connect(kept) as db:
        states = dict(db.execute("SELECT key, state FROM deliveries").fetchall())
    assert states == {"k": "sent", "k2": "pending"}


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder mounted read-only (root ignores permission bits, so a bind mount it is); skipped where
    mounting is not allowed."""
    source, target = tmp_path / "rw", tmp_path / "ro"
    source.mkdir()
    target.mkdir()
    journal(source / "j.sqlite").close()
    if os.geteuid() != 0:
        os.chmod(source / "j.sqlite", 0o444)
        os.chmod(source, 0o555)
        yield source
        os.chmod(source, 0o755)
        return
    mounted = subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True)
    if mounted.returncode != 0 or subprocess.run(["mount", "-o", "remount,ro,bind", str(target)],
                                                 capture_output=True).returncode != 0:
        subprocess.run(["umount", str(target)], capture_output=True)
        pytest.skip("cannot make a read-only folder here (root without mount rights)")
    yield target
    if subprocess.run(["umount", str(target)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(target)], check=True)


def test_a_read_only_journal_is_a_journal_error(read_only_dir):
    opened = []
    with pytest.raises(JournalError, match="read-only"):
        opened.append(journal(read_only_dir / "j.sqlite", exclusive=False))
        opened[0].begin(batch("a@example.com"))
    for j in opened:
        j.close()


def test_a_servers_error_text_is_journalled_as_one_encodable_line(tmp_path):
    """A lone surrogate from an error body (JSON `\\ud800`) made SQLite raise UnicodeEncodeError mid-run,
    leaving the rows pending: in doubt, though the API had refused them."""
    from mwsync.send.sender import Sender

    class Refusing:  # a client whose server answered 400 with a hostile message
        def send_message(self, event_id, text, recipients, slots, before_send):
            before_send()
            return SendResult("failed", 400, 1, error="rejected: 400 B x\ud800y\x1b[2J", code="B\ud800")

        def abort(self):
            pass

    j = journal(tmp_path / "j.sqlite")
    summary = Sender(Refusing(), j).run([batch("a@example.com")])
    assert summary.stop_error is None and summary.messages == {"failed": 1}
    [failure] = j.failures()
    assert failure["state"] == "failed" and failure["code"] == "B\ufffd"
    assert failure["error"] == "rejected: 400 B x\ufffdy\\x1b[2J"
    j.close()
