"""What the issue asks of `mwsync loadtest --report`: the document's keys, checked by unit and system tests."""

REPORT_KEYS = frozenset({"passed", "checks", "requests", "status_429", "max_requests_in_window",
                         "achieved_rate_per_s", "limit_rate_per_s", "delivered", "duplicates", "lost"})
