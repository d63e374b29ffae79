"""Cropping detected cars with padding, deterministic crop ids and keys."""

from __future__ import annotations

from PIL import Image

from functions.core.base.records import Box, Detection


def crop_id(image_id: str, index: int) -> str:
    return f"{image_id}-{index:02d}"


def crop_key(image_id: str, index: int) -> str:
    """Unique and deterministic: a duplicate event rewrites the same object, never a second one."""
    return f"crops/{image_id[:2]}/{image_id}/{index:02d}.jpg"


def padded_box(box: Box, width: int, height: int, padding: float) -> tuple[int, int, int, int]:
    pad_x = (box.x2 - box.x1) * padding
    pad_y = (box.y2 - box.y1) * padding
    left = max(0, int(box.x1 - pad_x))
    top = max(0, int(box.y1 - pad_y))
    right = min(width, round(box.x2 + pad_x))
    bottom = min(height, round(box.y2 + pad_y))
    return left, top, max(right, left + 1), max(bottom, top + 1)


def keep_detection(detection: Detection, min_side: int) -> bool:
    box = detection.box
    return (box.x2 - box.x1) >= min_side and (box.y2 - box.y1) >= min_side


def crop(image: Image.Image, box: Box, padding: float) -> Image.Image:
    return image.crop(padded_box(box, image.width, image.height, padding))


def crop_id_of_key(key: str) -> str:
    """The crop id of a crop object key (the inverse of crop_key); ValueError for any other key."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != "crops" or not parts[3].endswith(".jpg"):
        raise ValueError(f"{key!r} is not a crop key (crops/<xx>/<image id>/<nn>.jpg)")
    index = parts[3][: -len(".jpg")]
    if not index.isdigit() or parts[1] != parts[2][:2]:
        raise ValueError(f"{key!r} is not a crop key (crops/<xx>/<image id>/<nn>.jpg)")
    return crop_id(parts[2], int(index))
