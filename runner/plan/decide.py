"""The exactly-once decision: what the journal's record of a message means for this run. Pure: no I/O.

Per message (idempotency key), given what the journal holds for each of its recipients:

| journal, per recipient          | decision                                                        |
|---------------------------------|-----------------------------------------------------------------|
| nothing, `failed`               | send to that recipient                                          |
| `sent`, same content            | skip that recipient                                             |
| `sent`, other content           | the whole message is `changed`: nothing is sent, it is reported  |
| `unknown`, `pending`            | `held` in doubt: not sent, unless `resend_unknown`              |
| `claimed`                       | another live runner holds it (shared journal): not ours, skipped |

A message is `send` when anyone is left to send to, else `held` when someone is in doubt, else
`elsewhere` when another runner holds someone, else `skip`. `claimed` is reported only by a shared
journal, for deliveries that another runner claimed or has in flight under a live lease.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ..rules import address_key

Action = Literal["send", "skip", "changed", "held", "elsewhere"]
#: recipient (address key) -> (journal state, content hash) of one message's recorded deliveries
Recorded = Mapping[str, tuple[str, str]]
IN_DOUBT = ("unknown", "pending")
ELSEWHERE = "claimed"


@dataclass(frozen=True)
class Decision:
    """`action` for the message; `recipients`: those to send to now (empty unless `send`)."""

    action: Action
    recipients: tuple[str, ...] = ()


def decide(recipients: Sequence[str], content: str, recorded: Recorded, *, resend_unknown: bool = False) -> Decision:
    """Decide one message: `recipients` as rendered, `content` its content hash, `recorded` what the journal
    holds for its key (see the module table)."""
    todo: list[str] = []
    held = elsewhere = False
    for recipient in recipients:
        state, old = recorded.get(address_key(recipient), (None, None))
        if state == "sent" and old != content:
            return Decision("changed")
        if state == "sent":
            continue
        if state == ELSEWHERE:
            elsewhere = True
        elif state in IN_DOUBT and not resend_unknown:
            held = True
        else:
            todo.append(recipient)
    if todo:
        return Decision("send", tuple(todo))
    return Decision("held" if held else "elsewhere" if elsewhere else "skip")
