"""The catalog: one DynamoDB table holding images, crops and per-group split assignments.

Item layout (single key `pk`, string):
  image#<image_id>   an ImageRecord
  crop#<crop_id>     a CropRecord
  group#<group_id>   the persisted split of a group (once test, always test)
GSI `by_status`: partition `kind_status` (e.g. "crop#new"), sort `pk`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Protocol

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from functions.core.base.records import CropRecord, CropStatus, ImageRecord
from functions.core.base.resources import STATUS_INDEX


class Catalog(Protocol):
    def get_image(self, image_id: str) -> ImageRecord | None: ...
    def put_image_if_absent(self, record: ImageRecord) -> bool: ...
    def put_crop(self, record: CropRecord) -> None: ...
    def get_crop(self, crop_id: str) -> CropRecord | None: ...
    def update_crop(self, record: CropRecord, expected_status: CropStatus | None = None) -> bool: ...
    def crops_by_status(self, status: CropStatus) -> Iterator[CropRecord]: ...
    def iter_images(self) -> Iterator[ImageRecord]: ...
    def iter_crops(self) -> Iterator[CropRecord]: ...
    def assign_group_split(self, group_id: str, split: str) -> str: ...
    def group_splits(self) -> dict[str, str]: ...
    def claim_key(self, record: ImageRecord) -> str | None: ...
    def supersede(self, old_image_id: str, new_image_id: str) -> list[str]: ...


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe dict → DynamoDB item (floats as Decimal, None dropped)."""
    cleaned = {k: v for k, v in data.items() if v is not None}
    item: dict[str, Any] = json.loads(json.dumps(cleaned), parse_float=Decimal)
    return item


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, list):
            return [convert(v) for v in value]
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value

    converted: dict[str, Any] = convert(item)
    return converted


def _image_item(record: ImageRecord) -> dict[str, Any]:
    item = to_item(record.model_dump(mode="json"))
    item.update(pk=f"image#{record.image_id}", kind="image", kind_status=f"image#{record.status.value}")
    return item


def crop_item(record: CropRecord) -> dict[str, Any]:
    item = to_item(record.model_dump(mode="json"))
    item.update(pk=f"crop#{record.crop_id}", kind="crop", kind_status=f"crop#{record.status.value}")
    return item


_META = ("pk", "kind", "kind_status")


def _strip(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in from_item(item).items() if k not in _META}


class DynamoCatalog:
    """Catalog on a DynamoDB table (real AWS, moto, or the local emulator)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def get_image(self, image_id: str) -> ImageRecord | None:
        item = self.table.get_item(Key={"pk": f"image#{image_id}"}, ConsistentRead=True).get("Item")
        return ImageRecord.model_validate(_strip(item)) if item else None

    def put_image_if_absent(self, record: ImageRecord) -> bool:
        """Write the image record unless one exists: True if written (the idempotency guard)."""
        try:
            self.table.put_item(Item=_image_item(record), ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def put_crop(self, record: CropRecord) -> None:
        self.table.put_item(Item=crop_item(record))

    def get_crop(self, crop_id: str) -> CropRecord | None:
        item = self.table.get_item(Key={"pk": f"crop#{crop_id}"}, ConsistentRead=True).get("Item")
        return CropRecord.model_validate(_strip(item)) if item else None

    def update_crop(self, record: CropRecord, expected_status: CropStatus | None = None) -> bool:
        """Replace a crop that exists (optionally only while it still has `expected_status`)."""
        condition = "attribute_exists(pk)"
        values: dict[str, Any] = {}
        if expected_status is not None:
            condition += " AND #status = :expected"
            values[":expected"] = expected_status.value
        kwargs: dict[str, Any] = {"Item": crop_item(record), "ConditionExpression": condition}
        if values:
            kwargs["ExpressionAttributeValues"] = values
            kwargs["ExpressionAttributeNames"] = {"#status": "status"}
        try:
            self.table.put_item(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def crops_by_status(self, status: CropStatus) -> Iterator[CropRecord]:
        kwargs: dict[str, Any] = {
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": Key("kind_status").eq(f"crop#{status.value}"),
        }
        while True:
            page = self.table.query(**kwargs)
            for item in page.get("Items", []):
                yield CropRecord.model_validate(_strip(item))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _scan(self, kind: str) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "FilterExpression": "#kind = :kind",
            "ExpressionAttributeNames": {"#kind": "kind"},
            "ExpressionAttributeValues": {":kind": kind},
        }
        while True:
            page = self.table.scan(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def iter_images(self) -> Iterator[ImageRecord]:
        for item in self._scan("image"):
            yield ImageRecord.model_validate(_strip(item))

    def iter_crops(self) -> Iterator[CropRecord]:
        for item in self._scan("crop"):
            yield CropRecord.model_validate(_strip(item))

    def assign_group_split(self, group_id: str, split: str) -> str:
        """Persist `split` for a new group; an existing assignment always wins and is returned."""
        try:
            self.table.put_item(
                Item={"pk": f"group#{group_id}", "kind": "group", "group_id": group_id, "split": split},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            item = self.table.get_item(Key={"pk": f"group#{group_id}"}, ConsistentRead=True)["Item"]
            return str(item["split"])
        return split

    def group_splits(self) -> dict[str, str]:
        return {str(item["group_id"]): str(item["split"]) for item in self._scan("group")}

    def claim_key(self, record: ImageRecord) -> str | None:
        """Make `record` the latest upload of its bucket/key unless a later one is: the image id the key
        pointed to before (None: first upload), or the later one's id when `record` is older."""
        pk = f"key#{hashlib.sha256(f'{record.bucket}/{record.key}'.encode()).hexdigest()[:32]}"
        uploaded = record.uploaded_at.isoformat()
        try:
            answer = self.table.update_item(
                Key={"pk": pk},
                UpdateExpression="SET #kind = :kind, image_id = :image, uploaded_at = :uploaded",
                ConditionExpression="attribute_not_exists(uploaded_at) OR uploaded_at <= :uploaded",
                ExpressionAttributeNames={"#kind": "kind"},
                ExpressionAttributeValues={":kind": "key", ":image": record.image_id, ":uploaded": uploaded},
                ReturnValues="UPDATED_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            later = self.table.get_item(Key={"pk": pk}, ConsistentRead=True)["Item"]
            return str(later["image_id"])
        previous = answer.get("Attributes", {}).get("image_id")
        return None if previous in (None, record.image_id) else str(previous)

    def supersede(self, old_image_id: str, new_image_id: str) -> list[str]:
        """Record that `new_image_id` replaced `old_image_id` (same key): the old image record says so,
        and its crops nobody has labelled yet (status new) become superseded, so they are never sent
        to labelling. Crops already labelled keep their status: their labels describe the old photo,
        whose version the raw bucket keeps. Returns the ids of the crops superseded."""
        old = self.get_image(old_image_id)
        if old is None or old_image_id == new_image_id:
            return []
        for image_id, attribute, other in (
            (old_image_id, "superseded_by", new_image_id),
            (new_image_id, "supersedes", old_image_id),
        ):
            self.table.update_item(
                Key={"pk": f"image#{image_id}"},
                UpdateExpression=f"SET {attribute} = :other",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":other": other},
            )  # fmt: skip
        superseded: list[str] = []
        for crop_id in old.crop_ids:
            crop_record = self.get_crop(crop_id)
            if crop_record is None or crop_record.status is not CropStatus.NEW:
                continue
            if self.update_crop(
                crop_record.model_copy(update={"status": CropStatus.SUPERSEDED}), CropStatus.NEW
            ):
                superseded.append(crop_id)
        return superseded
