"""Send: access tokens (`auth`), the one `requests` session (`session`), the rate limiter (`throttle`),
retries (`retry`), the Moveworks client (`client`, the only module with API shapes; `listener`, its sibling
for webhook listeners) and the thread pool that sends a job's batches (`sender`); `redis_limiter` is the
limiter shared by several runners.

The names below are imported on first use (PEP 562), so `from mwsync.send.throttle import ...` or
`mwsync.send.stop` does not import `requests`: commands that send nothing start faster.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import MoveworksClient
    from .listener import ListenerClient
    from .sender import SendSummary, Sender
    from .throttle import Limiter, SlidingWindowLimiter, Unlimited, open_limiter

_WHERE = {"MoveworksClient": "client", "ListenerClient": "listener", "SendSummary": "sender", "Sender": "sender",
          "Limiter": "throttle", "SlidingWindowLimiter": "throttle", "Unlimited": "throttle",
          "open_limiter": "throttle"}
__all__ = ["Limiter", "ListenerClient", "MoveworksClient", "SendSummary", "Sender", "SlidingWindowLimiter", "Unlimited",
           "open_limiter"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
