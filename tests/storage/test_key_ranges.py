"""Splitting a bucket's key space into ranges, and merging the ranges' pages."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from perstack_logq.storage.base import ObjectInfo
from perstack_logq.storage.key_ranges import (
    KeyRange,
    RangeLister,
    list_ranges,
    ranges_worth_listing,
    split_after,
)

BOUNDARIES = [f"jobs/j{i:02d}/" for i in range(20)]


def test_ranges_cover_every_key_after_the_first_page_once() -> None:
    ranges = split_after("jobs/j03/runs/r/x.json", BOUNDARIES, 4)
    assert ranges == [
        ("jobs/j03/runs/r/x.json", "jobs/j08/"),
        ("jobs/j08/", "jobs/j12/"),
        ("jobs/j12/", "jobs/j16/"),
        ("jobs/j16/", None),
    ]
    keys = ["jobs/j03/runs/r/y.json", "jobs/j07", "jobs/j08/a", "jobs/j11.json", "jobs/j19/z"]
    for key in keys:
        holders = [
            (start, stop)
            for start, stop in ranges
            if (start is None or key > start) and (stop is None or key < stop)
        ]
        assert len(holders) == 1, key


@pytest.mark.parametrize("count", [0, 1])
def test_one_range_or_none_to_split_at_lists_the_rest_as_one_stream(count: int) -> None:
    assert split_after("jobs/j03/x", BOUNDARIES, count) == [("jobs/j03/x", None)]
    assert split_after("jobs/j99/x", BOUNDARIES, 8) == [("jobs/j99/x", None)]


def test_no_more_ranges_than_boundaries_left() -> None:
    ranges = split_after("jobs/j17/x", BOUNDARIES, 32)
    assert ranges == [("jobs/j17/x", "jobs/j18/"), ("jobs/j18/", "jobs/j19/"), ("jobs/j19/", None)]


def test_ranges_follow_the_pages_left_to_list() -> None:
    page = [f"jobs/j{i // 10:02d}/runs/r/e{i}.json" for i in range(100)]  # 10 jobs, 10 keys each
    assert ranges_worth_listing(page, "jobs/", 10, 32) == 1  # the last job's rest: one page
    assert ranges_worth_listing(page, "jobs/", 95, 32) == 9
    assert ranges_worth_listing(page, "jobs/", 10_000, 32) == 32


def _lister(pages_per_range: int) -> tuple[list[KeyRange], RangeLister]:
    ranges: list[KeyRange] = [(None, "b"), ("b", "c"), ("c", None)]

    def list_range(key_range: KeyRange) -> Iterator[list[ObjectInfo]]:
        for page in range(pages_per_range):
            yield [ObjectInfo(f"{key_range[0]}/{page}/{n}", 1, "v") for n in range(3)]

    return ranges, list_range


def test_pages_of_every_range_arrive_once() -> None:
    ranges, list_range = _lister(5)
    keys = [info.key for info in list_ranges(ranges, list_range)]
    assert len(keys) == len(set(keys)) == 3 * 5 * 3


def test_a_failing_range_raises_its_error_at_once_and_the_others_stop() -> None:
    listed: list[int] = []
    first_page_taken = threading.Event()
    failed = threading.Event()

    def list_range(key_range: KeyRange) -> Iterator[list[ObjectInfo]]:
        if key_range[0] == "b":
            first_page_taken.wait(60)
            failed.set()
            raise RuntimeError("range b failed")
        for page in range(10_000):
            listed.append(page)
            yield [ObjectInfo(f"{key_range[0]}/{page}", 1, "v")]  # one object a page

    ranges: list[KeyRange] = [(None, "b"), ("b", "c"), ("c", None)]
    handed_over = 0
    with pytest.raises(RuntimeError, match="range b failed"):
        for _ in list_ranges(ranges, list_range):
            handed_over += 1
            if handed_over == 1:
                # Range b fails, and the other ranges fill the queue, while this page is held.
                first_page_taken.set()
                assert failed.wait(60), "range b never ran"
                time.sleep(0.5)
    # The pages waiting in the queue are not handed over once a range has failed.
    assert handed_over == 1
    # The others stopped long before their 10,000 pages each.
    assert len(listed) < 2 * 10_000


_CALLER_FAILS_IN_A_CYCLE = """
from perstack_logq.storage.base import ObjectInfo
from perstack_logq.storage.key_ranges import list_ranges

def list_range(key_range):
    for page in range(10_000):
        yield [ObjectInfo(f"{key_range[0]}/{page}", 1, "v")]

def sync():
    listing = list_ranges([(None, "b"), ("b", "c"), ("c", None)], list_range)
    for count, _ in enumerate(listing):
        if count == 5:
            try:
                raise ValueError("the caller failed")
            except ValueError as error:
                kept = error  # a cycle: traceback -> frame -> error -> traceback
                raise kept

try:
    sync()
except ValueError as error:
    raise SystemExit(3) from error
"""


def test_a_caller_failing_mid_listing_still_lets_the_process_exit() -> None:
    # The listing generator outlives the failure (held by the cycle) with its threads blocked
    # on a full queue: the process must exit anyway, not wait for them forever.
    done = subprocess.run(
        [sys.executable, "-c", _CALLER_FAILS_IN_A_CYCLE], capture_output=True, timeout=120
    )
    assert done.returncode == 3, done.stderr.decode()
