"""Statistics, quality flags and the perceptual hash of one image (numpy + Pillow only).

Used at ingest (detection stores them on the image and crop records), by the drift monitor (the same
statistics of incoming photos against the training reference) and by extraction (near-duplicates).
The perceptual hash is the DCT hash of `imagehash.phash` (32×32 grey, top-left 8×8 DCT block against
its median), computed with numpy so the Lambda needs no SciPy; a test checks it bit for bit.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
from PIL import Image

from functions.core.base.records import ImageStats, QualityFlag
from functions.core.quality.settings import QualitySettings

HASH_SIZE = 8
_HASH_SOURCE = HASH_SIZE * 4


@lru_cache(maxsize=4)
def _dct_matrix(n: int) -> npt.NDArray[np.float64]:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    matrix: npt.NDArray[np.float64] = 2.0 * np.cos(np.pi * k * (2 * i + 1) / (2 * n))
    return matrix


def perceptual_hash(image: Image.Image) -> str:
    """64-bit DCT hash as 16 hex digits (imagehash.phash's string form)."""
    grey = image.convert("L").resize((_HASH_SOURCE, _HASH_SOURCE), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.float64)
    dct = _dct_matrix(_HASH_SOURCE)
    low = (dct @ pixels @ dct.T)[:HASH_SIZE, :HASH_SIZE]
    bits = (low > np.median(low)).flatten()
    value = int("".join("1" if b else "0" for b in bits), 2)
    return f"{value:016x}"


def _grey(image: Image.Image, side: int) -> npt.NDArray[np.float64]:
    grey = image.convert("L")
    scale = side / max(grey.size)
    if scale < 1.0:
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        grey = grey.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(grey, dtype=np.float64)


def sharpness(pixels: npt.NDArray[np.float64]) -> float:
    """Variance of the 4-neighbour Laplacian (low = blurred); 0 for images under 3 px a side."""
    if min(pixels.shape) < 3:
        return 0.0
    lap = pixels[:-2, 1:-1] + pixels[2:, 1:-1] + pixels[1:-1, :-2] + pixels[1:-1, 2:] - 4 * pixels[1:-1, 1:-1]
    return float(lap.var())


def flags_of(stats: ImageStats, settings: QualitySettings) -> list[QualityFlag]:
    flags: list[QualityFlag] = []
    if stats.sharpness < settings.blur_below:
        flags.append(QualityFlag.BLURRED)
    if stats.brightness > settings.over_exposed_above:
        flags.append(QualityFlag.OVER_EXPOSED)
    if stats.brightness < settings.under_exposed_below:
        flags.append(QualityFlag.UNDER_EXPOSED)
    if min(stats.width, stats.height) < settings.min_side:
        flags.append(QualityFlag.TOO_SMALL)
    return flags


def measure(image: Image.Image, settings: QualitySettings | None = None) -> ImageStats:
    """Size, aspect, brightness, contrast, sharpness, perceptual hash and the flags they raise."""
    settings = settings or QualitySettings()
    pixels = _grey(image, settings.analysis_side)
    stats = ImageStats(
        width=image.width,
        height=image.height,
        aspect=round(image.width / max(1, image.height), 4),
        brightness=round(float(pixels.mean()), 3),
        contrast=round(float(pixels.std()), 3),
        sharpness=round(sharpness(pixels), 3),
        phash=perceptual_hash(image),
    )
    stats.flags = flags_of(stats, settings)
    return stats
