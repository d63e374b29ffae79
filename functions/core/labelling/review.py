"""Expert review: the queue of crops proposed for a variant, decisions, undo, progress.

Catalog items written here (one table, see catalog.py):
  crop#<id>          status in_review → verified (final_class) or rejected, with reviewer and time
  decision#<id>      one expert action: which crops were approved / corrected / rejected, by whom, when
  reviewer#<name>    `stack`: the reviewer's decision ids, newest last (what undo pops)
  classes#known      `names`: every class seen as a hint or given by an expert (autocomplete)
A decision or an undo is one DynamoDB transaction: either every crop changes or none does.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field, field_validator, model_validator

from functions.core.base.catalog import DynamoCatalog, crop_item, from_item, to_item
from functions.core.base.records import CropRecord, CropStatus, Scored, utc_now
from functions.core.detection.crops import DEFAULT_CROP_PADDING, crop_window

NO_HINT = "(no hint)"
MAX_CROPS_PER_DECISION = 90  # a DynamoDB transaction holds at most 100 writes
KNOWN_CLASSES_PK = "classes#known"
# A class becomes a folder name when training materialises the data set (work/<split>/<class>) and
# reaches the PDF report and Slack: letters and digits, single separators (- _ .) between them.
# No "/", "..", spaces, control or markup characters; at most 80 characters.
_CLASS_NAME = re.compile(r"^[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*$")
MAX_CLASS_NAME = 80
_VARIANT = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


class ReviewError(Exception):
    status = 400


class CropNotFoundError(ReviewError):
    status = 404


class DecisionConflictError(ReviewError):
    status = 409


def valid_class_name(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_CLASS_NAME or not _CLASS_NAME.match(value):
        raise ValueError(
            f"class name {value[:100]!r} must be 1-{MAX_CLASS_NAME} letters, digits and single - _ . "
            "between them (e.g. audi-a4-sedan-2012)"
        )
    return value


class DecisionRequest(BaseModel):
    """One expert action on the grid of one variant."""

    variant: str
    approve: list[str] = Field(default_factory=list)
    corrections: dict[str, str] = Field(default_factory=dict)
    reject: list[str] = Field(default_factory=list)

    @field_validator("corrections")
    @classmethod
    def _valid_classes(cls, value: dict[str, str]) -> dict[str, str]:
        return {crop_id: valid_class_name(name) for crop_id, name in value.items()}

    @field_validator("variant")
    @classmethod
    def _printable_variant(cls, value: str) -> str:
        if not _VARIANT.match(value):
            raise ValueError("variant must be 1-200 printable characters")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DecisionRequest:
        ids = [*self.approve, *self.corrections, *self.reject]
        if not ids:
            raise ValueError("a decision needs at least one crop")
        if len(ids) != len(set(ids)):
            raise ValueError("a crop appears more than once in the decision")
        if len(ids) > MAX_CROPS_PER_DECISION:
            raise ValueError(f"at most {MAX_CROPS_PER_DECISION} crops per decision")
        if self.approve and self.variant == NO_HINT:
            raise ValueError("crops without a hint can only be corrected (type the variant) or rejected")
        if self.approve:  # approving labels the crops with the variant: it must be a valid class name
            valid_class_name(self.variant)
        return self


class ReviewDecision(BaseModel):
    decision_id: str
    reviewer: str
    variant: str
    decided_at: datetime
    approved: list[str]
    corrected: dict[str, str]
    rejected: list[str]
    undone_at: datetime | None = None

    def crop_ids(self) -> list[str]:
        return [*self.approved, *self.corrected, *self.rejected]


class ReviewItem(BaseModel):
    crop_id: str
    variant: str
    confidence: float
    box: list[float]  # the detection box as fractions of the crop: x1, y1, x2, y2
    group_id: str
    main_car: bool = True  # the car the photo is about (it carries the hint); else another car in it
    view: str | None
    quality: str | None
    agreement: float | None
    model_top_k: list[Scored] = Field(
        default_factory=list, description="the served cascade's top-k (last stage), beside the crowd's answer"
    )
    note: str | None = None  # why the crop is in review (e.g. a user correction)


def _variant(crop: CropRecord) -> str:
    return crop.variant_hint or NO_HINT


class ReviewStore:
    """Review queries and transactional decisions on the catalog table.

    Transactions go through the table resource's client, which serializes plain Python values itself.
    """

    def __init__(self, catalog: DynamoCatalog, crop_padding: float = DEFAULT_CROP_PADDING) -> None:
        self.catalog = catalog
        self.table = catalog.table
        self.client = catalog.table.meta.client
        self.crop_padding = crop_padding

    # --- queries -------------------------------------------------------------------------------------

    def in_review(self) -> Iterator[CropRecord]:
        return self.catalog.crops_by_status(CropStatus.IN_REVIEW)

    def variants(self) -> dict[str, int]:
        return dict(sorted(Counter(_variant(c) for c in self.in_review()).items()))

    def progress(self) -> dict[str, int]:
        done = sum(1 for _ in self.catalog.crops_by_status(CropStatus.VERIFIED))
        done += sum(1 for _ in self.catalog.crops_by_status(CropStatus.REJECTED))
        return {"done": done, "remaining": sum(1 for _ in self.in_review())}

    def queue(self, variant: str, limit: int = 48) -> list[ReviewItem]:
        crops = sorted((c for c in self.in_review() if _variant(c) == variant), key=lambda c: c.crop_id)
        return [self._item(c) for c in crops[:limit]]

    def _item(self, crop: CropRecord) -> ReviewItem:
        return ReviewItem(
            crop_id=crop.crop_id,
            variant=_variant(crop),
            confidence=crop.confidence,
            box=self.box_in_crop(crop),
            group_id=crop.group_id,
            main_car=crop.main_car,
            view=crop.view,
            quality=crop.quality,
            agreement=crop.agreement,
            model_top_k=crop.served.stages[-1].top_k if crop.served and crop.served.stages else [],
            note=crop.review_note,
        )

    def box_in_crop(self, crop: CropRecord) -> list[float]:
        """Where the detected car lies inside its (padded) crop, as fractions (for the green box)."""
        left, top, right, bottom = crop_window(crop.box, self.crop_padding)
        width, height = right - left, bottom - top
        b = crop.box

        def frac(value: float, origin: int, size: int) -> float:
            return round(min(1.0, max(0.0, (value - origin) / size)), 4)

        return [
            frac(b.x1, left, width),
            frac(b.y1, top, height),
            frac(b.x2, left, width),
            frac(b.y2, top, height),
        ]

    def known_classes(self) -> list[str]:
        item = self.table.get_item(Key={"pk": KNOWN_CLASSES_PK}, ConsistentRead=True).get("Item") or {}
        names = set(item.get("names", set())) | {v for v in self.variants() if v != NO_HINT}
        return sorted(names, key=str.lower)

    def remember_classes(self, names: Iterable[str]) -> None:
        cleaned = {n for n in names if n and n != NO_HINT}
        if cleaned:
            self.table.update_item(
                Key={"pk": KNOWN_CLASSES_PK},
                UpdateExpression="ADD #names :names SET #kind = :kind",
                ExpressionAttributeNames={"#names": "names", "#kind": "kind"},
                ExpressionAttributeValues={":names": cleaned, ":kind": "classes"},
            )

    def get_decision(self, decision_id: str) -> ReviewDecision | None:
        item = self.table.get_item(Key={"pk": f"decision#{decision_id}"}, ConsistentRead=True).get("Item")
        if not item:
            return None
        data = {k: v for k, v in from_item(item).items() if k not in {"pk", "kind"}}
        return ReviewDecision.model_validate(data)

    def undo_stack(self, reviewer: str) -> list[str]:
        item = self.table.get_item(Key={"pk": f"reviewer#{reviewer}"}, ConsistentRead=True).get("Item")
        return [str(x) for x in (item or {}).get("stack", [])]

    # --- decisions -----------------------------------------------------------------------------------

    def _crops_in_review(self, crop_ids: list[str]) -> dict[str, CropRecord]:
        crops: dict[str, CropRecord] = {}
        for crop_id in crop_ids:
            crop = self.catalog.get_crop(crop_id)
            if crop is None:
                raise CropNotFoundError(f"crop {crop_id} does not exist (deleted?); nothing was written")
            if crop.status is not CropStatus.IN_REVIEW:
                raise DecisionConflictError(
                    f"crop {crop_id} is {crop.status.value}, not in review; nothing was written"
                )
            crops[crop_id] = crop
        return crops

    def decide(self, reviewer: str, request: DecisionRequest, now: datetime | None = None) -> ReviewDecision:
        """Apply one expert action atomically; every crop must still be in review."""
        now = now or utc_now()
        decision = ReviewDecision(
            decision_id=f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
            reviewer=reviewer,
            variant=request.variant,
            decided_at=now,
            approved=request.approve,
            corrected=request.corrections,
            rejected=request.reject,
        )
        crops = self._crops_in_review(decision.crop_ids())
        writes: list[dict[str, Any]] = []
        for crop_id, crop in crops.items():
            if crop_id in decision.rejected:
                update: dict[str, Any] = {"status": CropStatus.REJECTED, "final_class": None}
            else:
                final = decision.corrected.get(crop_id, request.variant)
                update = {"status": CropStatus.VERIFIED, "final_class": final}
            update |= {"reviewer": reviewer, "reviewed_at": now}
            writes.append(self._put_crop(crop.model_copy(update=update), CropStatus.IN_REVIEW, None))
        writes.append(self._put_decision(decision))
        writes.append(
            {
                "Update": {
                    "TableName": self.table.name,
                    "Key": {"pk": f"reviewer#{reviewer}"},
                    "UpdateExpression": "SET #stack = list_append(if_not_exists(#stack, :empty), :id), "
                    "#kind = :kind",
                    "ExpressionAttributeNames": {"#stack": "stack", "#kind": "kind"},
                    "ExpressionAttributeValues": {
                        ":empty": [],
                        ":id": [decision.decision_id],
                        ":kind": "reviewer",
                    },
                }
            }
        )
        self._transact(writes, "the decision")
        self.remember_classes(decision.corrected.values())
        return decision

    def undo_last(self, reviewer: str, now: datetime | None = None) -> ReviewDecision:
        """Put the crops of the reviewer's last decision back in review (if nobody changed them since)."""
        stack = self.undo_stack(reviewer)
        if not stack:
            raise DecisionConflictError(f"{reviewer} has no decision to undo")
        decision = self.get_decision(stack[-1])
        if decision is None:
            raise DecisionConflictError(f"decision {stack[-1]} is missing from the catalog")
        writes: list[dict[str, Any]] = []
        for crop_id in decision.crop_ids():
            crop = self.catalog.get_crop(crop_id)
            if crop is None:
                raise CropNotFoundError(f"crop {crop_id} no longer exists; cannot undo, nothing was written")
            expected = CropStatus.REJECTED if crop_id in decision.rejected else CropStatus.VERIFIED
            reverted = crop.model_copy(
                update={
                    "status": CropStatus.IN_REVIEW,
                    "final_class": None,
                    "reviewer": None,
                    "reviewed_at": None,
                }
            )
            writes.append(self._put_crop(reverted, expected, reviewer))
        decision.undone_at = now or utc_now()
        writes.append(self._put_decision(decision))
        writes.append(
            {
                "Update": {
                    "TableName": self.table.name,
                    "Key": {"pk": f"reviewer#{reviewer}"},
                    "UpdateExpression": f"REMOVE #stack[{len(stack) - 1}]",
                    "ConditionExpression": "size(#stack) = :n",
                    "ExpressionAttributeNames": {"#stack": "stack"},
                    "ExpressionAttributeValues": {":n": len(stack)},
                }
            }
        )
        self._transact(writes, "the undo")
        return decision

    def _put_crop(self, crop: CropRecord, expected: CropStatus, reviewer: str | None) -> dict[str, Any]:
        condition = "#status = :expected"
        values: dict[str, Any] = {":expected": expected.value}
        names = {"#status": "status"}
        if reviewer is not None:
            condition += " AND #reviewer = :reviewer"
            values[":reviewer"] = reviewer
            names["#reviewer"] = "reviewer"
        return {
            "Put": {
                "TableName": self.table.name,
                "Item": crop_item(crop),
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def _put_decision(self, decision: ReviewDecision) -> dict[str, Any]:
        item = to_item(decision.model_dump(mode="json"))
        item.update(pk=f"decision#{decision.decision_id}", kind="decision")
        return {"Put": {"TableName": self.table.name, "Item": item}}

    def _transact(self, writes: list[dict[str, Any]], what: str) -> None:
        try:
            self.client.transact_write_items(TransactItems=writes)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                raise DecisionConflictError(
                    f"{what} was not applied: a crop changed meanwhile; nothing was written"
                ) from exc
            raise

    def auto_approve(self, reviewer: str = "auto-approve") -> int:
        """Accept the upload hint of every crop in review that has one (the demo default)."""
        approved = 0
        for variant in self.variants():
            if variant == NO_HINT:
                continue
            ids = [c.crop_id for c in self.in_review() if _variant(c) == variant]
            for start in range(0, len(ids), MAX_CROPS_PER_DECISION):
                chunk = ids[start : start + MAX_CROPS_PER_DECISION]
                self.decide(reviewer, DecisionRequest(variant=variant, approve=chunk))
                approved += len(chunk)
        return approved
