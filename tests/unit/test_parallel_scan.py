"""The catalog's parallel scan: every item once, across segments and pages; a segment's error surfaces."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from functions.core.base.catalog import DynamoCatalog


class SegmentedTable:
    """A fake table: `items` split over the requested segments, `page` items per page."""

    def __init__(
        self, items: list[dict[str, Any]], page: int = 3, failing_segment: int | None = None
    ) -> None:
        self.items = items
        self.page = page
        self.failing_segment = failing_segment
        self.segments_seen: set[tuple[int, int]] = set()
        self.lock = threading.Lock()

    def scan(self, **kwargs: Any) -> dict[str, Any]:
        segment, total = kwargs.get("Segment", 0), kwargs.get("TotalSegments", 1)
        with self.lock:
            self.segments_seen.add((segment, total))
        if segment == self.failing_segment:
            raise RuntimeError(f"segment {segment} failed")
        mine = [item for n, item in enumerate(self.items) if n % total == segment]
        start = int(kwargs.get("ExclusiveStartKey", {}).get("n", 0))
        page: dict[str, Any] = {"Items": mine[start : start + self.page]}
        if start + self.page < len(mine):
            page["LastEvaluatedKey"] = {"n": start + self.page}
        return page


def _groups(n: int) -> list[dict[str, Any]]:
    return [{"pk": f"group#g{i}", "kind": "group", "group_id": f"g{i}", "split": "train"} for i in range(n)]


def test_every_item_comes_once_from_all_segments() -> None:
    # GIVEN 50 group items and a catalog scanning in 4 segments of 3-item pages
    table = SegmentedTable(_groups(50))
    # WHEN the group splits are read
    splits = DynamoCatalog(table, scan_segments=4).group_splits()
    # THEN all 50 come back once, and each of the 4 segments was scanned
    assert len(splits) == 50
    assert {segment for segment, total in table.segments_seen if total == 4} == {0, 1, 2, 3}


def test_a_failing_segment_raises_instead_of_returning_part_of_the_table() -> None:
    # GIVEN segment 2 of 4 fails
    table = SegmentedTable(_groups(40), failing_segment=2)
    # WHEN the group splits are read THEN the error surfaces (no partial result)
    with pytest.raises(RuntimeError, match="segment 2 failed"):
        DynamoCatalog(table, scan_segments=4).group_splits()


def test_segments_must_be_at_least_one() -> None:
    with pytest.raises(ValueError, match="scan_segments must be at least 1"):
        DynamoCatalog(SegmentedTable([]), scan_segments=0)
