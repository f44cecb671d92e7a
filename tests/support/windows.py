"""Measuring a rate limit from the outside: the most request starts in any window."""

from __future__ import annotations


def max_in_window(starts: list[float], window_s: float) -> int:
    """Most starts in any half-open span [t, t + window_s)."""
    starts = sorted(starts)
    best, lo = 0, 0
    for hi, t in enumerate(starts):
        while starts[lo] <= t - window_s:
            lo += 1
        best = max(best, hi - lo + 1)
    return best
