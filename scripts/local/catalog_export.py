"""Local mode's catalog snapshot: image, crop and group items of the emulator's table as JSON lines.

The emulator forgets the catalog when the demo ends; the demo writes `out/catalog.jsonl` so commands
that read the catalog (`skillforge drift --catalog out/catalog.jsonl`) work on what the run left.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from functions.core.base.catalog import from_item
from functions.core.base.records import CropRecord, ImageRecord

KINDS = ("image", "crop", "group")
_META = ("pk", "kind", "kind_status")


def export_catalog(table: Any, path: Path) -> int:
    """Write every image, crop and group item of `table` to `path`; returns the number written."""
    kwargs: dict[str, Any] = {}
    written = 0
    with path.open("w", encoding="utf-8") as out:
        while True:
            page = table.scan(**kwargs)
            for item in page.get("Items", []):
                if item.get("kind") in KINDS:
                    out.write(json.dumps(from_item(item), sort_keys=True) + "\n")
                    written += 1
            if "LastEvaluatedKey" not in page:
                return written
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class ExportedCatalog:
    """Read-only catalog over an export (the part of the catalog the drift monitor reads)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(
                f"catalog export {path} does not exist (the demo writes out/catalog.jsonl)"
            )
        self.items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]

    def _of(self, kind: str) -> Iterator[dict[str, Any]]:
        for item in self.items:
            if item.get("kind") == kind:
                yield {k: v for k, v in item.items() if k not in _META}

    def iter_images(self) -> Iterator[ImageRecord]:
        for item in self._of("image"):
            yield ImageRecord.model_validate(item)

    def iter_crops(self) -> Iterator[CropRecord]:
        for item in self._of("crop"):
            yield CropRecord.model_validate(item)

    def group_splits(self) -> dict[str, str]:
        return {str(i["group_id"]): str(i["split"]) for i in self._of("group")}
