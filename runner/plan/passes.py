"""The two streaming passes over a job's rendered rows, so memory stays flat however many rows there are.

1. `plan_pass`: check every message against the API's limits and the in-run key ledger, decide each
   against the journal (`decide`), count the requests after chunking and coalescing; returns a frozen
   `PlanSummary`. Any invalid row stops the job before anything is sent, unless `skip_invalid`.
2. `send_pass`: the same stream again, yielding each `Batch` as it fills, skipping the rows the plan
   found invalid. Each batch's deliveries are *claimed* (`claim(deliveries) -> the deliveries this runner
   now holds`) as the batch is handed to the sender: with a shared journal, several runners walk the same
   rows and a delivery another runner claimed first is left to it (counted in `tally["elsewhere"]`).

Both take the rendered stream (`RenderedMessage`, `Filtered`, `Rejected` records, from `mwsync.pipeline`)
and a journal `lookup(key)` (and `claim`), so they are tested without files, templates or databases. A
listener job's stream holds `RenderedPayload`s instead: one delivery each (the journal marker), checked
against the 1 MB limit, never coalesced: each is one `Notify` request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from ..errors import InvalidMessages, Problem
from ..records import Batch, Delivery, Filtered, Notify, Rejected, RenderedMessage, RenderedPayload
from .batcher import Batcher
from .checks import message_problems, payload_problems
from .decide import Decision, Recorded, decide
from .ledger import KeyLedger

MAX_PROBLEMS = 50
MAX_UNLISTED = 10_000
Rendered = RenderedMessage | RenderedPayload
Item = RenderedMessage | RenderedPayload | Filtered | Rejected
Lookup = Callable[[str], Recorded]
Claim = Callable[[list[Delivery]], list[Delivery]]


def no_journal(key: str) -> Recorded:
    """The `lookup` of a plan without a journal (`mwsync plan`): nothing was sent before."""
    return {}


@dataclass(frozen=True)
class SendOptions:
    """Per-run choices: `skip_invalid` sends the valid rest; `resend_unknown` resends deliveries in doubt;
    `dry_run` plans without sending."""

    skip_invalid: bool = False
    resend_unknown: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class PlanSummary:
    """What the plan pass found. Messages: `messages` rendered and valid, `to_send` with someone to send to,
    `skipped` already sent, `changed` sent before with other content (not resent), `held` in doubt (not
    resent), `elsewhere` held by another runner right now (a shared journal), `invalid` rows with problems,
    `filtered` rows the filter dropped; `duplicates` deliveries
    dropped because an earlier row had the same idempotency key and recipient; `recipients` over all
    messages; `requests` after chunking and coalescing. `problems`: the first 50 of `problem_count` distinct
    problems (one problem repeated on many rows counts once, with its row count);
    `invalid_rows`: every invalid row number (the send pass skips them)."""

    messages: int = 0
    to_send: int = 0
    skipped: int = 0
    changed: int = 0
    held: int = 0
    elsewhere: int = 0
    invalid: int = 0
    filtered: int = 0
    duplicates: int = 0
    recipients: int = 0
    requests: int = 0
    changed_keys: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    problem_count: int = 0
    invalid_rows: frozenset[int] = frozenset()


_COUNTED = {"send": "to_send", "skip": "skipped", "changed": "changed", "held": "held", "elsewhere": "elsewhere"}


@dataclass
class _Counts:
    """The plan pass's running counts (private: the pass returns a frozen `PlanSummary`)."""

    values: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("messages", "to_send", "skipped", "changed", "held", "elsewhere", "filtered", "duplicates", "recipients",
         "requests"), 0))
    changed_keys: list[str] = field(default_factory=list)
    problems: dict[tuple, Problem] = field(default_factory=dict)
    problem_count: int = 0
    invalid_rows: set[int] = field(default_factory=set)
    unlisted: set[tuple] = field(default_factory=set)

    def problem(self, found: Iterable[Problem], row: int) -> None:
        """Record `found` for `row`; the same problem (file, field, line, text) on many rows is kept once,
        with its first and last row and how many rows have it."""
        self.invalid_rows.add(row)
        for problem in found:
            same = (problem.file, problem.where, problem.line, problem.message)
            seen = self.problems.get(same)
            if seen is not None:
                self.problems[same] = replace(seen, rows=(seen.rows or 1) + 1, last_row=problem.row)
            elif len(self.problems) < MAX_PROBLEMS:
                self.problems[same] = problem
                self.problem_count += 1
            elif same not in self.unlisted:  # counted once, not shown (bounded: beyond it, counted per row)
                self.problem_count += 1
                if len(self.unlisted) < MAX_UNLISTED:
                    self.unlisted.add(same)

    def decided(self, message: Rendered, decision: Decision) -> None:
        if isinstance(message, RenderedMessage):  # a listener body has no recipients, only its journal marker
            self.values["recipients"] += len(message.recipients)
        self.values[_COUNTED[decision.action]] += 1
        if decision.action == "changed" and len(self.changed_keys) < MAX_PROBLEMS:
            self.changed_keys.append(message.key)

    def summary(self) -> PlanSummary:
        return PlanSummary(**self.values, invalid=len(self.invalid_rows), changed_keys=tuple(self.changed_keys),
                           problems=tuple(self.problems.values()), problem_count=self.problem_count,
                           invalid_rows=frozenset(self.invalid_rows))


def _checked(items: Iterable[Item], label: str, counts: _Counts | None,
             invalid_rows: frozenset[int]) -> Iterator[Rendered]:
    """Valid messages, each recipient of each idempotency key once. With `counts` (plan pass) problems are
    collected there; without (send pass) the rows in `invalid_rows` are skipped."""
    ledger = KeyLedger()
    try:
        for item in items:
            if isinstance(item, Filtered):
                if counts is not None:
                    counts.values["filtered"] += 1
                continue
            row = item.row
            if counts is None and row in invalid_rows:
                continue
            if isinstance(item, Rejected):
                if counts is not None:
                    counts.problem(item.problems, row)
                continue
            checks = payload_problems if isinstance(item, RenderedPayload) else message_problems
            found = [Problem(label, where, what, row=row) for where, what in checks(item)] \
                if counts is not None else []
            if found:
                counts.problem(found, row)
                continue
            conflict, recipients = ledger.check(item)
            if conflict:
                if counts is not None:
                    where = "listener" if isinstance(item, RenderedPayload) else "message"
                    counts.problem([Problem(label, f"{where}.idempotency_key", conflict, row=row)], row)
                continue
            if len(recipients) < len(item.recipients):
                if counts is not None:
                    counts.values["duplicates"] += len(item.recipients) - len(recipients)
                if not recipients:
                    continue
                item = replace(item, recipients=recipients)
            if counts is not None:
                counts.values["messages"] += 1
            yield item
    finally:
        ledger.close()


def _batches(messages: Iterable[Rendered], lookup: Lookup, options: SendOptions,
             counts: _Counts | None, tally: dict[str, int] | None = None) -> Iterator[Batch | Notify]:
    """Decide each message against the journal, batch the deliveries to send (a listener body: one `Notify`).
    `tally["elsewhere"]` counts messages another runner held at the decision."""
    batcher = Batcher()
    for message in messages:
        decision = decide(message.recipients, message.content_hash, lookup(message.key),
                          resend_unknown=options.resend_unknown)
        if counts is not None:
            counts.decided(message, decision)
        if decision.action == "elsewhere" and tally is not None:
            tally["elsewhere"] = tally.get("elsewhere", 0) + 1
        deliveries = [Delivery(message.key, r, message.content_hash, message.row) for r in decision.recipients]
        if isinstance(message, RenderedPayload):
            if deliveries:  # no coalescing: a listener body is one event
                yield Notify(message.listener_id, message.body, tuple(deliveries))
            continue
        yield from batcher.add(message, deliveries)
    yield from batcher.flush()


def _claimed(batches: Iterable[Batch], claim: Claim, tally: dict[str, int] | None) -> Iterator[Batch]:
    """Each batch cut down to the deliveries `claim` grants this runner, as it is handed to the sender (not
    when its rows are read: coalescing reads far ahead, and a claim held that long would keep the work
    from other runners); a batch left empty is dropped. `tally["elsewhere"]` counts messages that lost a
    delivery to another runner."""
    for batch in batches:
        held = claim(list(batch.deliveries))
        if len(held) < len(batch.deliveries) and tally is not None:
            kept = set(held)
            lost = {d.key for d in batch.deliveries if d not in kept}
            tally["elsewhere"] = tally.get("elsewhere", 0) + len(lost)
        if held:
            yield batch if len(held) == len(batch.deliveries) else replace(batch, deliveries=tuple(held))


def plan_pass(items: Iterable[Item], lookup: Lookup, options: SendOptions, *, label: str,
              job_file: str = "") -> PlanSummary:
    """The plan pass over `items` (`label`: the source, for problems). Raises `InvalidMessages` (up to 50
    shown, all counted) unless `options.skip_invalid`; `job_file` is named in its note."""
    counts = _Counts()
    for _ in _batches(_checked(items, label, counts, frozenset()), lookup, options, counts):
        counts.values["requests"] += 1
    summary = counts.summary()
    if summary.problem_count and not options.skip_invalid:
        raise InvalidMessages(list(summary.problems), total=summary.problem_count,
                              note=f"{job_file or label}: nothing was sent ({summary.invalid} invalid rows); fix the "
                                   "rows, or pass --skip-invalid to send the valid rest")
    return summary


def send_pass(items: Iterable[Item], lookup: Lookup, options: SendOptions, plan: PlanSummary,
              claim: Claim | None = None, tally: dict[str, int] | None = None) -> Iterator[Batch | Notify]:
    """Every request the job needs now, as `Batch`es (<= 500 recipients, identical content coalesced) or, for
    a listener job, `Notify`s (one body each), rows the `plan` found invalid left out, and only the
    deliveries `claim` granted this runner (None: all). `tally["elsewhere"]`, when given, counts messages
    left to other runners. `claim` raises what the journal raises (`JournalError`)."""
    batches = _batches(_checked(items, "", None, plan.invalid_rows), lookup, options, None, tally)
    return batches if claim is None else _claimed(batches, claim, tally)
