"""Send: access tokens (`auth`), the one `requests` session (`session`), the rate limiter (`throttle`),
retries (`retry`), the Moveworks client (`client`, the only module with API shapes; `listener`, its sibling
for webhook listeners) and the thread pool that sends a job's batches (`sender`)."""

from .client import MoveworksClient
from .listener import ListenerClient
from .sender import SendSummary, Sender
from .throttle import Limiter, SlidingWindowLimiter, Unlimited

__all__ = ["Limiter", "ListenerClient", "MoveworksClient", "SendSummary", "Sender", "SlidingWindowLimiter", "Unlimited"]
