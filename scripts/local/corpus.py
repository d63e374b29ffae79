"""Synthetic images, including the bad-input corpus (built in memory; used by tests and `make soak`)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def jpeg(
    width: int = 64, height: int = 48, color: tuple[int, int, int] = (40, 90, 160), **save: object
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="JPEG", **save)
    return buffer.getvalue()


def png(
    mode: str = "RGB", width: int = 64, height: int = 48, color: float | tuple[float, ...] | None = None
) -> bytes:
    defaults: dict[str, float | tuple[float, ...]] = {
        "RGB": (40, 90, 160),
        "L": 120,
        "RGBA": (40, 90, 160, 128),
        "LA": (120, 200),
        "P": 3,
    }
    buffer = io.BytesIO()
    Image.new(mode, (width, height), color if color is not None else defaults[mode]).save(
        buffer, format="PNG"
    )
    return buffer.getvalue()


def cmyk_jpeg(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("CMYK", (width, height), (200, 10, 10, 0)).save(buffer, format="JPEG")
    return buffer.getvalue()


def exif_rotated_jpeg(width: int = 80, height: int = 40, orientation: int = 6) -> bytes:
    """Stored landscape, EXIF says 'rotate 90°': upright it is portrait."""
    image = Image.new("RGB", (width, height), (40, 90, 160))
    exif = image.getexif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    data = jpeg(256, 256, quality=95)
    return data[: len(data) // 2]


def decompression_bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny valid PNG whose header declares huge dimensions."""
    data = bytearray(png("L", 8, 8))
    # IHDR chunk starts at byte 8: length(4) type(4) data(13) crc(4)
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)) & 0xFFFFFFFF)
    return bytes(data)


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (32, 32), 1).save(buffer, format="GIF")
    return buffer.getvalue()


BAD_INPUTS: dict[str, bytes] = {
    "empty.jpg": b"",
    "notes.txt.jpg": b"this is not an image at all\n" * 10,
    "truncated.jpg": truncated_jpeg(),
    "bomb.png": decompression_bomb_png(),
    "animated.gif": gif(),
}

ODD_BUT_GOOD: dict[str, bytes] = {
    "cmyk.jpg": cmyk_jpeg(),
    "grey.png": png("L"),
    "alpha.png": png("RGBA"),
    "palette.png": png("P"),
    "rotated.jpg": exif_rotated_jpeg(),
}


def scene(seed: int, width: int = 320, height: int = 240) -> bytes:
    """A random synthetic scene (coloured boxes on a gradient): decodes fine, mostly no car."""
    import random

    from PIL import ImageDraw

    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(1, 6)):
        x1, y1 = rng.randrange(width - 10), rng.randrange(height - 10)
        x2, y2 = rng.randint(x1 + 5, width), rng.randint(y1 + 5, height)
        draw.rectangle((x1, y1, x2, y2), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()
