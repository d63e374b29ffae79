"""Safe image decoding: every byte string either becomes an RGB image or a quarantine reason."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from functions.core.base.records import QuarantineReason

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "TIFF", "MPO"})


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 30 * 1024 * 1024
    max_pixels: int = 60_000_000
    min_side: int = 16


class BadImageError(Exception):
    """An input that cannot be used, with a machine-readable reason."""

    def __init__(self, reason: QuarantineReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


def decode_image(data: bytes, limits: ImageLimits | None = None) -> Image.Image:
    """Decode bytes into an upright RGB image, or raise BadImageError.

    Checks size and declared dimensions before decoding pixels (decompression bombs), refuses
    formats outside ALLOWED_FORMATS, loads fully (truncated files fail here, not later), applies
    the EXIF orientation and converts CMYK / greyscale / palette / alpha images to RGB.
    """
    limits = limits or ImageLimits()
    if not data:
        raise BadImageError(QuarantineReason.EMPTY_FILE, "the file has zero bytes")
    if len(data) > limits.max_bytes:
        raise BadImageError(
            QuarantineReason.FILE_TOO_LARGE, f"{len(data)} bytes is over the limit of {limits.max_bytes}"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
            raise BadImageError(QuarantineReason.DECOMPRESSION_BOMB, str(exc)) from exc
        raise BadImageError(QuarantineReason.NOT_AN_IMAGE, "not a readable image format") from exc
    except Exception as exc:  # PIL raises many types on garbage headers
        raise BadImageError(QuarantineReason.NOT_AN_IMAGE, f"unreadable header: {exc}") from exc
    if image.format not in ALLOWED_FORMATS:
        raise BadImageError(
            QuarantineReason.UNSUPPORTED_FORMAT,
            f"format {image.format} is not one of {sorted(ALLOWED_FORMATS)}",
        )
    width, height = image.size
    if width * height > limits.max_pixels:
        raise BadImageError(
            QuarantineReason.DECOMPRESSION_BOMB,
            f"declared size {width}x{height} is over {limits.max_pixels} pixels",
        )
    if min(width, height) < limits.min_side:
        raise BadImageError(
            QuarantineReason.TOO_SMALL, f"{width}x{height} is smaller than {limits.min_side} px a side"
        )
    try:
        image.load()
        upright = ImageOps.exif_transpose(image) or image
        return _to_rgb(upright)
    except Exception as exc:  # truncated data, broken chunks, bad EXIF
        raise BadImageError(QuarantineReason.TRUNCATED_OR_CORRUPT, f"cannot decode pixels: {exc}") from exc


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def encode_jpeg(image: Image.Image, quality: int = 90) -> bytes:
    """JPEG bytes without any metadata (no EXIF, so no GPS reaches crowd workers)."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=False)
    return buffer.getvalue()
