"""The PostgreSQL journal against a real PostgreSQL (a fresh database per test): claims split the work,
leases decide who is alive, and nobody's late answer overwrites a row another runner has taken.

"Runners" here are journals opened side by side in one process, each with its own run id and lease; a
dead runner is one whose lease thread stopped (`_stop_renewing`) without closing, as after `kill -9`.
"""

from __future__ import annotations

import threading
import time

import pytest

from mwsync.errors import JournalError
from mwsync.journal import open_journal
from mwsync.journal.postgres import ClaimLost, PostgresJournal
from mwsync.records import Batch, Delivery, SendResult
from mwsync.redact import SECRETS

A, B, C = "a@example.com", "b@example.com", "c@example.com"


def deliveries(*recipients: str, key: str = "k", content: str = "h") -> list[Delivery]:
    return [Delivery(key, r, content, 1) for r in recipients]


def batch(items: list[Delivery]) -> Batch:
    return Batch("e", "t", {}, tuple(items))


@pytest.fixture
def runner(pg_url):
    """`runner(lease_s=30) -> PostgresJournal`: another runner of job `job` against target `t`."""
    opened: list[PostgresJournal] = []

    def open_one(lease_s: float = 30.0) -> PostgresJournal:
        journal = open_journal(pg_url, target="t", job="job", lease_s=lease_s)
        opened.append(journal)
        return journal

    yield open_one
    for journal in opened:
        journal.close()


def _stop_renewing(journal: PostgresJournal) -> None:
    """The runner dies: its lease is no longer renewed (nothing is released)."""
    journal._closing.set()
    journal._renewer.join()


def test_a_delivery_is_claimed_by_exactly_one_runner(runner):
    first, second = runner(), runner()
    assert first.claim(deliveries(A, B)) == deliveries(A, B)
    assert second.claim(deliveries(A, B, C)) == deliveries(C)
    assert second.lookup("k") == {A: ("claimed", "h"), B: ("claimed", "h"), C: ("claimed", "h")}
    assert first.shared and first.location.startswith("postgresql://mwsync@127.0.0.1:")


def test_runners_racing_for_the_same_messages_never_share_one(runner):
    journals = [runner() for _ in range(4)]
    won: list[list[Delivery]] = [[] for _ in journals]
    start = threading.Barrier(len(journals))

    def race(i: int) -> None:
        start.wait()
        for n in range(50):
            won[i] += journals[i].claim(deliveries(A, B, key=f"k{n}"))

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(journals))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [(d.key, d.recipient) for w in won for d in w]
    assert len(claimed) == len(set(claimed)) == 100


def test_begin_sends_only_what_this_runner_still_holds(runner):
    mine, other = runner(), runner()
    mine.claim(deliveries(A))
    other.claim(deliveries(B))
    with pytest.raises(ClaimLost, match="1 of the 2 deliveries"):
        mine.begin(batch(deliveries(A, B)))
    assert mine.lookup("k")[A] == ("claimed", "h")  # rolled back: nothing moved to pending
    request = mine.begin(batch(deliveries(A)))
    mine.finish(request, SendResult("sent", 200, 1))
    assert other.lookup("k")[A] == ("sent", "h")


def test_only_refused_deliveries_are_claimed_again_and_unknown_ones_only_when_resending(runner):
    first = runner()
    first.claim(deliveries(A, B))
    refused, lost = first.begin(batch(deliveries(A))), first.begin(batch(deliveries(B)))
    first.finish(refused, SendResult("failed", 400, 1, error="rejected"))
    first.finish(lost, SendResult("unknown", 502, 1))
    second = runner()
    assert second.claim(deliveries(A, B)) == deliveries(A)
    assert second.claim(deliveries(B), resend_unknown=True) == deliveries(B)


def test_a_dead_runners_claims_are_released_and_its_requests_in_flight_become_unknown(runner):
    dead = runner(lease_s=1)
    dead.claim(deliveries(A, B) + deliveries(C, key="k2"))
    dead.begin(batch(deliveries(C, key="k2")))  # in flight when it died
    _stop_renewing(dead)
    survivor = runner()
    assert survivor.recover() == 0  # its lease has not expired yet: a live runner's rows are never touched
    assert survivor.lookup("k") == {A: ("claimed", "h"), B: ("claimed", "h")}
    time.sleep(1.2)
    assert survivor.lookup("k") == {} and survivor.lookup("k2") == {C: ("unknown", "h")}
    assert survivor.recover() == 1
    assert survivor.claim(deliveries(A, B)) == deliveries(A, B)
    assert survivor.counts()["deliveries"] == {"claimed": 2, "unknown": 1}


def test_a_dead_runners_claim_is_taken_over_before_any_sweep(runner):
    dead = runner(lease_s=1)
    dead.claim(deliveries(A))
    _stop_renewing(dead)
    time.sleep(1.2)
    assert runner().claim(deliveries(A)) == deliveries(A)


def test_a_late_answer_never_overwrites_a_row_another_runner_took(runner):
    slow = runner(lease_s=1)
    slow.claim(deliveries(A, B))
    request = slow.begin(batch(deliveries(A, B)))
    _stop_renewing(slow)  # stalled past its lease with the request in flight
    time.sleep(1.2)
    other = runner()
    assert other.recover() == 2
    assert other.claim(deliveries(A), resend_unknown=True) == deliveries(A)
    slow.finish(request, SendResult("sent", 200, 1))
    assert other.lookup("k") == {A: ("claimed", "h"), B: ("sent", "h")}  # B was still its own: the truth lands
    slow.claim(deliveries(C, key="k2"))
    with pytest.raises(ClaimLost):  # and nothing more goes out from the stalled runner
        slow.begin(batch(deliveries(C, key="k2")))


def test_a_runner_whose_lease_expired_stops(runner):
    stalled = runner(lease_s=1)
    _stop_renewing(stalled)  # alive, but nobody renewed its lease in time (a stalled process)
    time.sleep(1.2)
    stalled.claim(deliveries(A))
    with pytest.raises(ClaimLost, match="no longer this runner's"):
        stalled.begin(batch(deliveries(A)))


def test_closing_releases_the_claims_whose_requests_never_started(runner):
    first = runner()
    first.claim(deliveries(A, B))
    first.close()
    assert runner().claim(deliveries(A, B)) == deliveries(A, B)


def test_the_schema_is_created_once_when_runners_start_together(pg_url):
    start, errors, journals = threading.Barrier(4), [], []

    def open_one() -> None:
        start.wait()
        try:
            journals.append(PostgresJournal(pg_url, target="t", job="job"))
        except JournalError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and sum(j.created for j in journals) == 1
    for journal in journals:
        journal.close()


def test_another_schema_version_is_refused(pg_url):
    import psycopg

    PostgresJournal(pg_url, target="t", job="job").close()
    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute("UPDATE mwsync_meta SET value = '99' WHERE name = 'schema'")
    with pytest.raises(JournalError, match="journal schema 99, this mwsync reads 1"):
        PostgresJournal(pg_url, target="t", job="job")


def test_an_unreachable_database_names_the_host_and_cause_and_never_the_password(postgres_server):
    from tests.support.servers import free_port

    url = f"postgresql://mwsync:hunter2-secret@127.0.0.1:{free_port()}/mwsync"
    with pytest.raises(JournalError) as caught:
        PostgresJournal(url, target="t", job="job")
    text = SECRETS.redact(str(caught.value))
    assert "connection refused" in text and "127.0.0.1" in text and "nothing was sent" in text
    assert "hunter2" not in str(caught.value) and "hunter2" not in SECRETS.redact(f"echo {url}")


def test_another_live_runners_request_in_flight_is_not_in_doubt(runner):
    busy, reader = runner(), runner()
    busy.claim(deliveries(A))
    busy.begin(batch(deliveries(A)))
    assert reader.failures(run_only=False, states=("unknown", "pending")) == []
    assert busy.failures(run_only=False, states=("pending",))[0]["key"] == "k"
