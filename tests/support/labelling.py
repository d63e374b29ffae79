"""Catalog + crops-bucket content for the labelling/review tests (moto)."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import Box, CropRecord, CropStatus, ImageRecord, ImageStatus
from functions.core.detection.images import encode_jpeg


def add_crop(
    aws: dict[str, Any],
    n: int,
    hint: str | None = "audi-a4",
    status: CropStatus = CropStatus.NEW,
    size: tuple[int, int] = (240, 140),
    job: str | None = None,
    main_car: bool = True,
    picture: Image.Image | None = None,
    final_class: str | None = None,
) -> CropRecord:
    """An image with one car and its crop (a textured JPEG of `size`, or `picture`) in moto."""
    names = aws["names"]
    catalog = DynamoCatalog(aws["table"])
    image_id = f"img{n:04d}"
    width, height = size[0] + 40, size[1] + 40
    catalog.put_image_if_absent(
        ImageRecord(
            image_id=image_id,
            bucket=names.raw_bucket,
            key=f"{hint or 'x'}/{image_id}.jpg",
            group_id=f"advert-{n}",
            variant_hint=hint,
            status=ImageStatus.CARS_FOUND,
            width=width,
            height=height,
            skill="car-detector",
            skill_version=1,
            code_version="test",
        )
    )
    image = Image.new("RGB", size, (90, 110, 130))
    pixels = image.load()
    assert pixels is not None
    for x in range(0, size[0], 6):  # edges, so the simulated crowd sees a sharp picture
        for y in range(size[1]):
            pixels[x, y] = (230, 230, 230)
    if picture is not None:
        image = picture.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    key = f"crops/{image_id[:2]}/{image_id}/00.jpg"
    aws["s3"].put_object(Bucket=names.crops_bucket, Key=key, Body=encode_jpeg(image))
    record = CropRecord(
        crop_id=f"{image_id}-00",
        image_id=image_id,
        crop_bucket=names.crops_bucket,
        crop_key=key,
        index=0,
        box=Box(x1=20, y1=20, x2=20 + size[0] * 0.9, y2=20 + size[1] * 0.9),
        confidence=0.91,
        label="car",
        group_id=f"advert-{n}",
        variant_hint=hint,
        main_car=main_car,
        status=status,
        final_class=final_class,
        labelling_job=job,
        skill="car-detector",
        skill_version=1,
        code_version="test",
    )
    catalog.put_crop(record)
    return record
