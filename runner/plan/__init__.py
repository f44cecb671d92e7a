"""Plan: check rendered messages against the API's limits (`checks`), settle idempotency keys within a
run (`ledger`) and against the journal (`decide`), chunk and coalesce into requests (`batcher`), estimate
the time (`estimate`); `passes` streams a job's rows through all of it."""

from .batcher import Batcher
from .checks import email_problem, message_problems
from .decide import Decision, decide
from .estimate import Estimate
from .ledger import KeyLedger
from .passes import PlanSummary, SendOptions, no_journal, plan_pass, send_pass

__all__ = ["Batcher", "Decision", "Estimate", "KeyLedger", "PlanSummary", "SendOptions", "decide", "email_problem",
           "message_problems", "no_journal", "plan_pass", "send_pass"]
