"""Local mode's catalog snapshot: image, crop and group items of the emulator's table as JSON lines,
and the lineage records of the deployed skill versions (the drift reference).

The emulator forgets the catalog when the demo ends; the demo writes `out/catalog.jsonl` so commands
that read the catalog (`skillforge drift --skill demo-car-class --catalog out/catalog.jsonl`) work on
what the run left.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from functions.core.base.catalog import from_item
from functions.core.base.records import CropRecord, ImageRecord
from functions.core.dataset.extract import LineageRecord
from functions.core.monitoring.drift import TrainingReference
from functions.core.monitoring.reference import reference_of

KINDS = ("image", "crop", "group")
_META = ("pk", "kind", "kind_status")


LINEAGE = "lineage"


def export_catalog(table: Any, path: Path, deployed_lineages: Iterable[LineageRecord] = ()) -> int:
    """Write every image, crop and group item of `table`, then the lineage records of the deployed
    versions, to `path`; returns the number of items written."""
    kwargs: dict[str, Any] = {}
    written = 0
    with path.open("w", encoding="utf-8") as out:
        for lineage in deployed_lineages:
            out.write(json.dumps({**lineage.model_dump(mode="json"), "kind": LINEAGE}, sort_keys=True) + "\n")
            written += 1
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
    """Read-only catalog over an export (what the drift monitor reads: photos, crops and the reference)."""

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

    def training_reference(self, skill: str) -> TrainingReference:
        """The train split of the exported lineage of the version of `skill` deployed at export time."""
        for item in self._of(LINEAGE):
            lineage = LineageRecord.model_validate(item)
            if lineage.skill == skill:
                return reference_of(lineage)
        return TrainingReference(
            skill=skill, missing=f"the export holds no lineage of a deployed {skill} version"
        )
