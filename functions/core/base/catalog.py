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
import queue
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Protocol

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from functions.core.base.records import CropRecord, CropStatus, ImageRecord, ServedAnswer
from functions.core.base.resources import STATUS_INDEX

DEFAULT_SCAN_SEGMENTS = 8  # parallel Scan segments, one thread each


class Catalog(Protocol):
    def get_image(self, image_id: str) -> ImageRecord | None: ...
    def put_image_if_absent(self, record: ImageRecord) -> bool: ...
    def put_crop(self, record: CropRecord) -> None: ...
    def put_crops(self, records: list[CropRecord]) -> None: ...
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

    def __init__(self, table: Any, scan_segments: int = DEFAULT_SCAN_SEGMENTS) -> None:
        if scan_segments < 1:
            raise ValueError(f"scan_segments must be at least 1, got {scan_segments}")
        self.table = table
        self.scan_segments = scan_segments

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

    def put_crops(self, records: list[CropRecord]) -> None:
        """Write several crops in batches of 25 (unprocessed items are resent by the batch writer)."""
        if len(records) == 1:
            self.put_crop(records[0])
            return
        with self.table.batch_writer(overwrite_by_pkeys=["pk"]) as batch:
            for record in records:
                batch.put_item(Item=crop_item(record))

    def get_crops(self, crop_ids: list[str]) -> dict[str, CropRecord]:
        """Crops by id (BatchGetItem, 100 keys a call, strongly consistent); absent ids are left out."""
        found: dict[str, CropRecord] = {}
        unique = list(dict.fromkeys(crop_ids))
        for start in range(0, len(unique), 100):
            keys = [{"pk": f"crop#{c}"} for c in unique[start : start + 100]]
            request: dict[str, Any] = {self.table.name: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = self.table.meta.client.batch_get_item(RequestItems=request)
                # the table's client (de)serializes attribute values, as the table does
                for item in response.get("Responses", {}).get(self.table.name, []):
                    record = CropRecord.model_validate(_strip(item))
                    found[record.crop_id] = record
                request = response.get("UnprocessedKeys") or {}
        return found

    def set_served(self, record: CropRecord, answer: ServedAnswer) -> bool:
        """Store a new served answer on an existing crop unless another writer changed it since `record`
        was read (optimistic: compares the previous answer's time). True if written."""
        values: dict[str, Any] = {":answer": to_item({"a": answer.model_dump(mode="json")})["a"]}
        names = {"#served": "served"}
        if record.served is None:
            condition = "attribute_exists(pk) AND attribute_not_exists(#served)"
        else:
            condition = "attribute_exists(pk) AND #served.#at = :previous"
            names["#at"] = "served_at"
            values[":previous"] = record.served.model_dump(mode="json")["served_at"]
        try:
            self.table.update_item(
                Key={"pk": f"crop#{record.crop_id}"},
                UpdateExpression="SET #served = :answer",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

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
        """Items of one kind: a parallel scan in `scan_segments` segments (no single sequential Scan).

        Pages are handed over through a bounded queue, so memory holds a few pages, not the table.
        """
        kwargs: dict[str, Any] = {
            "FilterExpression": "#kind = :kind",
            "ExpressionAttributeNames": {"#kind": "kind"},
            "ExpressionAttributeValues": {":kind": kind},
        }
        if self.scan_segments == 1:
            yield from _scan_segment(self.table, kwargs)
            return
        yield from _parallel_scan(self.table, kwargs, self.scan_segments)

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


def _scan_segment(table: Any, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
    request = dict(kwargs)
    while True:
        page = table.scan(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


_DONE = object()


def _parallel_scan(table: Any, kwargs: dict[str, Any], segments: int) -> Iterator[dict[str, Any]]:
    """Scan segments on threads; items are yielded as pages arrive; a worker's error is re-raised here."""
    pages: queue.Queue[Any] = queue.Queue(maxsize=2 * segments)
    stop = threading.Event()

    def worker(segment: int) -> None:
        try:
            request = {**kwargs, "Segment": segment, "TotalSegments": segments}
            while not stop.is_set():
                page = table.scan(**request)
                _put(pages, page.get("Items", []), stop)
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except Exception as exc:  # handed to the reading thread, which raises it
            _put(pages, exc, stop)
        finally:
            _put(pages, _DONE, stop)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(segments)]
    for thread in threads:
        thread.start()
    running = segments
    try:
        while running:
            page = pages.get()
            if page is _DONE:
                running -= 1
            elif isinstance(page, Exception):
                raise page
            else:
                yield from page
    finally:
        stop.set()  # the reader stopped early or failed: the workers stop at their next page
        for thread in threads:
            thread.join(timeout=5)


def _put(pages: queue.Queue[Any], value: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            pages.put(value, timeout=0.1)
            return
        except queue.Full:
            continue
