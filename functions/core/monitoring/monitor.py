"""The drift monitor use case: read the catalog, score the asked days, emit one metric record per day."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from functions.core.base.records import CropRecord, ImageRecord
from functions.core.monitoring.drift import DriftRun, drift_table, emf_record
from functions.core.monitoring.reference import ReferenceSource
from functions.core.monitoring.settings import DriftSettings


class CatalogReader(Protocol):
    """What the monitor reads: the catalog table, or an export of it (local mode)."""

    def iter_images(self) -> Iterator[ImageRecord]: ...
    def iter_crops(self) -> Iterator[CropRecord]: ...


@dataclass(frozen=True)
class DriftDeps:
    catalog: CatalogReader
    reference: ReferenceSource  # the deployed version's lineage (train split)
    settings: DriftSettings
    deployment: str  # the stage (dev, prod): one drift series per deployment and skill
    skill: str  # the skill whose served answers are watched (the cascade's last stage)


def days_before(now: datetime, count: int) -> list[date]:
    """The `count` UTC days before `now`'s day, oldest first (complete days only)."""
    today = now.date()
    return [today - timedelta(days=n) for n in range(count, 0, -1)]


def monitor(
    deps: DriftDeps, days: Iterable[date], now: datetime, emit: Callable[[str], None] | None = None
) -> DriftRun:
    """Score each day against the deployed version's training photos; every scored day's EMF record
    goes to `emit` (stdout in the Lambda, where CloudWatch turns it into the metric); days without
    uploads are "no data", days without a reference "no reference" (no metric either)."""
    run = drift_table(
        deps.catalog.iter_images(),
        deps.catalog.iter_crops(),
        deps.reference.training_reference(deps.skill),
        days,
        deps.settings,
    )
    if emit is not None:
        for row in run.rows:
            record = emf_record(row, deps.deployment, deps.skill, int(now.timestamp() * 1000))
            if record is not None:
                emit(json.dumps(record, separators=(",", ":")))
    return run
