"""Data-quality thresholds (environment prefix SKILLFORGE_QUALITY_), validated once."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class QualitySettings(BaseSettings):
    """When an image is flagged, and how close two perceptual hashes must be to count as the same photo.

    Sharpness is the variance of the Laplacian of the grey image scaled to `analysis_side` px (so a
    resized copy measures the same); brightness is the mean grey level (0-255).
    """

    model_config = SettingsConfigDict(env_prefix="SKILLFORGE_QUALITY_", extra="ignore")

    analysis_side: int = Field(default=256, ge=32, le=2048, description="longest side measured (px)")
    blur_below: float = Field(default=60.0, ge=0.0, description="sharpness under this: blurred")
    over_exposed_above: float = Field(default=225.0, ge=0.0, le=255.0, description="mean grey over this")
    under_exposed_below: float = Field(default=35.0, ge=0.0, le=255.0, description="mean grey under this")
    min_side: int = Field(default=48, ge=1, description="a side shorter than this (px): too small")
    near_duplicate_bits: int = Field(
        default=6, ge=0, le=7, description="perceptual hashes this many bits apart (of 64) are one photo"
    )
