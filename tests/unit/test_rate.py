"""`Rate`: `limit` calls per `window_s` seconds, and `Rate.parse`, the one parser of `N/S` text and pairs."""

from __future__ import annotations

import math

import pytest

from mwsync.rate import Rate, is_rate


@pytest.mark.parametrize(("value", "expected"), [
    ("10/2", (10, 2.0)),
    ("120/60s", (120, 60.0)),
    (" 5 / 0.5 ", (5, 0.5)),
    ("5/.5", (5, 0.5)),
    ("1000000000/86400", (1_000_000_000, 86_400.0)),
    ((120, 60), (120, 60.0)),
    ([3, 1], (3, 1.0)),
    ((3.0, 0.25), (3, 0.25)),
], ids=["text", "seconds-suffix", "spaces-and-fraction", "leading-dot", "largest", "pair", "list",
        "whole-float-limit"])
def test_parse_reads_text_and_pairs(value, expected):
    rate = Rate.parse(value)
    assert (rate.limit, rate.window_s, rate.name) == (*expected, "custom")
    assert isinstance(rate.limit, int) and isinstance(rate.window_s, float)


@pytest.mark.parametrize(("value", "fragment"), [
    ("120", "is not CALLS/SECONDS"),
    ("a/60", "is not CALLS/SECONDS"),
    ("1.5/2", "is not CALLS/SECONDS"),
    ("-1/2", "is not CALLS/SECONDS"),
    ("10/2/3", "is not CALLS/SECONDS"),
    ("10/2ms", "is not CALLS/SECONDS"),
    ("", "is not CALLS/SECONDS"),
    (None, "is not CALLS/SECONDS"),
    (10, "is not CALLS/SECONDS"),
    ((1,), "is not CALLS/SECONDS"),
    ((1, 2, 3), "is not CALLS/SECONDS"),
    ("0/60", "the limit is a whole number of calls, 1..1000000000"),
    ("1000000001/1", "the limit is a whole number"),
    ((1.5, 1), "the limit is a whole number"),
    ((True, 1), "the limit is a whole number"),
    (("10", 2), "the limit is a whole number"),
    ("5/0", "the window is a number of seconds, over 0 and at most 86400"),
    ("1/86401", "the window is a number of seconds"),
    ((5, -1), "the window is a number of seconds"),
    ((5, math.inf), "the window is a number of seconds"),
    ((5, math.nan), "the window is a number of seconds"),
    ((5, True), "the window is a number of seconds"),
    ((5, "2"), "the window is a number of seconds"),
], ids=["no-window", "letters", "fractional-limit", "negative", "two-slashes", "other-unit", "empty", "none",
        "number", "short-pair", "long-pair", "zero-limit", "limit-too-large", "fractional-pair-limit",
        "bool-limit", "text-limit", "zero-window", "window-over-a-day", "negative-window", "infinite-window",
        "nan-window", "bool-window", "text-window"])
def test_parse_refuses_with_the_expected_form(value, fragment):
    with pytest.raises(ValueError) as info:
        Rate.parse(value)
    assert fragment in str(info.value)


def test_a_name_labels_parsed_text_and_pairs_but_a_rate_is_returned_as_it_is():
    assert Rate.parse("10/2", "fast").name == "fast" and Rate.parse((10, 2), "fast").name == "fast"
    rate = Rate(10, 2.0, "mine")
    assert Rate.parse(rate, "other") is rate


def test_a_rate_says_its_spelling_and_rate_per_second():
    rate = Rate.parse("20/2", "ci")
    assert (rate.spec, str(rate), rate.rate_per_s) == ("20/2", "ci (20/2s)", 10.0)
    assert rate.named("other") == Rate(20, 2.0, "other")
    assert Rate.parse(rate.spec) == Rate(20, 2.0)  # the spelling reads back


@pytest.mark.parametrize(("text", "expected"), [("10/2", True), ("0/0", True), (" 5 / .5s ", True),
                                                 ("ongoing", False), ("10", False)],
                         ids=["rate", "out-of-range-still-spelt-as-rate", "spaces", "profile-name", "number"])
def test_is_rate_tells_a_rate_from_a_profile_name(text, expected):
    assert is_rate(text) is expected
