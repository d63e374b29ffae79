"""Cropping detected cars: one square crop geometry (with context), deterministic crop ids and keys."""

from __future__ import annotations

import math

from PIL import Image

from functions.core.base.records import Box, Detection


def crop_id(image_id: str, index: int) -> str:
    return f"{image_id}-{index:02d}"


def crop_key(image_id: str, index: int) -> str:
    """Unique and deterministic: a duplicate event rewrites the same object, never a second one."""
    return f"crops/{image_id[:2]}/{image_id}/{index:02d}.jpg"


# Context around the car, as a fraction of its long side on each side of the square window.
DEFAULT_CROP_PADDING = 0.1
MAIN_CAR_RULES = ("largest", "central")
# The grey of the YOLO letterbox: what a crop shows where its square window leaves the photo.
FILL = (114, 114, 114)


def crop_window(box: Box, padding: float) -> tuple[int, int, int, int]:
    """The square window of a car's crop: centred on the box, side = long side x (1 + 2 x padding).

    One geometry for training, test and serving: the crop is square, so the classifier's resize
    (shortest side, then centre square) keeps the whole car and its context instead of cutting
    the middle out of a wide box. The window may reach past the photo (filled grey by `crop`).
    """
    side = max(box.x2 - box.x1, box.y2 - box.y1) * (1.0 + 2.0 * padding)
    side_px = max(1, round(side))
    left = round((box.x1 + box.x2 - side_px) / 2)
    top = round((box.y1 + box.y2 - side_px) / 2)
    return left, top, left + side_px, top + side_px


def keep_detection(detection: Detection, min_side: int) -> bool:
    box = detection.box
    return (box.x2 - box.x1) >= min_side and (box.y2 - box.y1) >= min_side


def crop(image: Image.Image, box: Box, padding: float) -> Image.Image:
    """The car's square crop (see `crop_window`); parts outside the photo are grey."""
    left, top, right, bottom = crop_window(box, padding)
    if left >= 0 and top >= 0 and right <= image.width and bottom <= image.height:
        return image.crop((left, top, right, bottom))
    canvas = Image.new(image.mode, (right - left, bottom - top), FILL if image.mode == "RGB" else 114)
    inside = (max(0, left), max(0, top), min(image.width, right), min(image.height, bottom))
    if inside[2] > inside[0] and inside[3] > inside[1]:
        canvas.paste(image.crop(inside), (inside[0] - left, inside[1] - top))
    return canvas


def main_car_index(boxes: list[Box], width: int, height: int, rule: str = "largest") -> int | None:
    """Which car the photo is about: `largest` box, or the `central` one (area x closeness to the centre).

    Only the main car inherits the photo's label hint; the other cars of a photo are background until
    someone says otherwise.
    """
    if not boxes:
        return None
    if rule not in MAIN_CAR_RULES:
        raise ValueError(f"main car rule {rule!r} is not one of {MAIN_CAR_RULES}")

    def score(box: Box) -> float:
        if rule == "largest":
            return box.area
        dx = ((box.x1 + box.x2) / 2 - width / 2) / max(1, width)
        dy = ((box.y1 + box.y2) / 2 - height / 2) / max(1, height)
        closeness = max(0.0, 1.0 - 2.0 * math.hypot(dx, dy))
        return box.area * closeness

    return max(range(len(boxes)), key=lambda i: (score(boxes[i]), -i))


def crop_id_of_key(key: str) -> str:
    """The crop id of a crop object key (the inverse of crop_key); ValueError for any other key."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != "crops" or not parts[3].endswith(".jpg"):
        raise ValueError(f"{key!r} is not a crop key (crops/<xx>/<image id>/<nn>.jpg)")
    index = parts[3][: -len(".jpg")]
    if not index.isdigit() or parts[1] != parts[2][:2]:
        raise ValueError(f"{key!r} is not a crop key (crops/<xx>/<image id>/<nn>.jpg)")
    return crop_id(parts[2], int(index))
