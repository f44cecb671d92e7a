"""Send: access tokens (`auth`), the one `requests` session (`session`), the rate limiter (`throttle`),
retries (`retry`), the Moveworks client (`client`, the only module with API paths and shapes) and the
thread pool that sends a job's batches (`sender`); `redis_limiter` is the limiter shared by several runners."""

from .client import MoveworksClient
from .sender import SendSummary, Sender
from .throttle import Limiter, SlidingWindowLimiter, Unlimited, open_limiter

__all__ = ["Limiter", "MoveworksClient", "SendSummary", "Sender", "SlidingWindowLimiter", "Unlimited",
           "open_limiter"]
