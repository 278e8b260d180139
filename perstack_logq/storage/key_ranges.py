"""Listing a large bucket as several key ranges at once.

ListObjectsV2 pages follow each other: each page's request needs the previous page's
continuation token, so one stream of 300 pages costs 300 round trips, and a remote store
is listed in full by every sync (it has no directory times to skip what did not change).
Pages of different key ranges do not depend on each other: split at job boundaries
(``jobs/{jobId}/``), which one listing with a delimiter gives cheaply (a request per 1,000
jobs), the ranges are listed side by side, each from ``StartAfter`` to the next boundary.

Every key falls in exactly one range: a range holds the keys after its start and before the
next range's start. The one key no range holds is a boundary itself, ``jobs/{jobId}/``: an
empty "folder" object, which no listing reports as a file anyway.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator, Sequence

from perstack_logq.storage.base import ObjectInfo

# A range: list the keys after ``start_after`` (None: from the first), before ``stop_before``
# (None: to the last).
KeyRange = tuple[str | None, str | None]
# Pages of one range's objects, in key order, each as a list; ends at the range's end.
RangeLister = Callable[[KeyRange], Iterator[list[ObjectInfo]]]

_WAIT_SECONDS = 0.1  # how often a blocked worker, or the caller, looks for a stop or a failure


def ranges_worth_listing(
    first_page: Sequence[str], jobs_prefix: str, job_count: int, limit: int
) -> int:
    """How many ranges the rest of a store is worth: about one per page still to list, as
    estimated from the jobs the first page held, and at most ``limit``. A range costs at
    least one request however short it is, so a store of a few pages is split in few."""
    jobs_seen = len({key[len(jobs_prefix) :].split("/", 1)[0] for key in first_page})
    keys_per_job = len(first_page) / max(jobs_seen, 1)
    # The first page's last job goes on into the rest: it counts on both sides.
    remaining_keys = (job_count - jobs_seen + 1) * keys_per_job
    return max(1, min(limit, math.ceil(remaining_keys / max(len(first_page), 1))))


def split_after(after: str, boundaries: Sequence[str], count: int) -> list[KeyRange]:
    """At most ``count`` ranges covering every key after ``after``, split at boundaries
    (sorted, as S3 orders keys) spread evenly among those past ``after``."""
    later = [boundary for boundary in boundaries if boundary > after]
    if count <= 1 or not later:
        return [(after, None)]
    step = len(later) / count
    starts = sorted({later[int(index * step)] for index in range(1, count)})
    edges: list[str | None] = [after, *starts]
    return list(zip(edges, [*starts, None], strict=True))


def list_ranges(ranges: Sequence[KeyRange], list_range: RangeLister) -> Iterator[ObjectInfo]:
    """The objects of every range, each range listed on a thread of its own, yielded page by
    page as pages arrive (not in key order). At most two pages per range wait: memory stays
    bounded by the number of ranges, never by the bucket. A range that fails stops the others
    and is raised at once, ahead of the pages still waiting.

    The threads are daemons: a caller that fails while this generator is alive may keep it
    alive (a reference cycle through its traceback) until the process exits, and threads
    blocked on a full queue would then hold that exit forever."""
    pages: queue.Queue[list[ObjectInfo] | None] = queue.Queue(2 * len(ranges))
    failures: list[BaseException] = []
    stop = threading.Event()

    def put(item: list[ObjectInfo] | None) -> bool:
        while not stop.is_set():
            try:
                pages.put(item, timeout=_WAIT_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def work(key_range: KeyRange) -> None:
        try:
            for page in list_range(key_range):
                if not put(page):
                    return
        except BaseException as error:  # raised by the caller
            failures.append(error)
            stop.set()
            return
        put(None)

    for key_range in ranges:
        threading.Thread(
            target=work, args=(key_range,), name="perstack-logq-list", daemon=True
        ).start()
    running = len(ranges)
    try:
        while running:
            if failures:
                raise failures[0]
            try:
                page = pages.get(timeout=_WAIT_SECONDS)
            except queue.Empty:
                continue
            if page is None:
                running -= 1
            else:
                yield from page
    finally:
        stop.set()  # workers still listing end at their next page
