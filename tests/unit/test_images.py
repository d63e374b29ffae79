from __future__ import annotations

import io

import pytest
from PIL import Image

from functions.core.base.records import QuarantineReason
from functions.core.detection.images import BadImageError, ImageLimits, decode_image, encode_jpeg
from scripts.local import corpus as images


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", QuarantineReason.EMPTY_FILE),
        (b"plain text, not pixels" * 20, QuarantineReason.NOT_AN_IMAGE),
        (images.truncated_jpeg(), QuarantineReason.TRUNCATED_OR_CORRUPT),
        (images.decompression_bomb_png(), QuarantineReason.DECOMPRESSION_BOMB),
        (images.gif(), QuarantineReason.UNSUPPORTED_FORMAT),
        (images.jpeg(8, 8), QuarantineReason.TOO_SMALL),
    ],
    ids=["empty", "text", "truncated", "bomb", "gif", "tiny"],
)
def test_bad_input_becomes_a_named_reason(data: bytes, reason: QuarantineReason) -> None:
    # GIVEN bytes that cannot be used as a photo
    # WHEN they are decoded
    with pytest.raises(BadImageError) as caught:
        decode_image(data)
    # THEN the error carries the machine-readable reason and a human detail
    assert caught.value.reason is reason
    assert caught.value.detail


def test_file_over_the_byte_limit_is_refused_before_decoding() -> None:
    # GIVEN a valid JPEG larger than the configured limit
    data = images.jpeg(64, 64)
    # WHEN decoded with a limit below its size
    with pytest.raises(BadImageError) as caught:
        decode_image(data, ImageLimits(max_bytes=len(data) - 1))
    # THEN it is refused as too large
    assert caught.value.reason is QuarantineReason.FILE_TOO_LARGE


@pytest.mark.parametrize("name", sorted(images.ODD_BUT_GOOD))
def test_unusual_but_valid_images_decode_to_rgb(name: str) -> None:
    # GIVEN a CMYK / greyscale / alpha / palette / EXIF-rotated image
    # WHEN decoded
    image = decode_image(images.ODD_BUT_GOOD[name])
    # THEN the model always gets an RGB image
    assert image.mode == "RGB"


def test_exif_orientation_is_applied() -> None:
    # GIVEN an 80x40 JPEG whose EXIF says "rotate 90°"
    data = images.exif_rotated_jpeg(80, 40, orientation=6)
    # WHEN decoded
    image = decode_image(data)
    # THEN it is upright: 40 wide, 80 high
    assert image.size == (40, 80)


def test_alpha_is_composited_on_white() -> None:
    # GIVEN a fully transparent PNG
    data = images.png("RGBA", color=(0, 0, 0, 0))
    # WHEN decoded
    image = decode_image(data)
    # THEN transparent pixels become white, not black
    assert image.getpixel((0, 0)) == (255, 255, 255)


def test_encoded_crops_carry_no_exif() -> None:
    # GIVEN a photo with EXIF (orientation and a GPS-like tag)
    source = Image.open(io.BytesIO(images.exif_rotated_jpeg()))
    assert source.getexif()
    # WHEN re-encoded for crowd workers
    data = encode_jpeg(decode_image(images.exif_rotated_jpeg()))
    # THEN the crop has no EXIF at all
    assert not Image.open(io.BytesIO(data)).getexif()
