"""Estimated AWS cost per 1,000 images on Lambda, next to Amazon Rekognition DetectLabels.

Prices are public list prices, us-east-1, as published on the AWS pricing pages (recorded 2025-06;
re-check them before quoting): they are constants here so the estimate is reproducible.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# https://aws.amazon.com/lambda/pricing/ — x86, first 6 billion GB-seconds/month tier, us-east-1.
LAMBDA_X86_USD_PER_GB_SECOND = 0.0000166667
# https://aws.amazon.com/lambda/pricing/ — $0.20 per 1M requests.
LAMBDA_USD_PER_REQUEST = 0.20 / 1_000_000
# https://aws.amazon.com/rekognition/pricing/ — Image, Group 2 APIs (DetectLabels), first 1M images/month.
REKOGNITION_DETECT_LABELS_USD_PER_1000 = 1.00
PRICES_SOURCE = (
    "AWS list prices, us-east-1, recorded 2025-06: aws.amazon.com/lambda/pricing "
    "(x86 $0.0000166667/GB-s, $0.20/1M requests), aws.amazon.com/rekognition/pricing "
    "(DetectLabels $1.00/1,000 images, first 1M/month)"
)


@dataclass(frozen=True)
class CostEstimate:
    lambda_memory_mb: int
    ms_per_image: float
    images_per_invocation: int
    usd_per_1000_images: float
    rekognition_usd_per_1000_images: float
    times_cheaper_than_rekognition: float
    source: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def lambda_cost_per_1000(ms_per_image: float, memory_mb: int, images_per_invocation: int) -> CostEstimate:
    """Compute (GB-s) for 1,000 images at the measured ms/image, plus one request per SQS batch."""
    gb_seconds = 1000 * (ms_per_image / 1000) * (memory_mb / 1024)
    requests = 1000 / images_per_invocation
    usd = gb_seconds * LAMBDA_X86_USD_PER_GB_SECOND + requests * LAMBDA_USD_PER_REQUEST
    return CostEstimate(
        lambda_memory_mb=memory_mb,
        ms_per_image=ms_per_image,
        images_per_invocation=images_per_invocation,
        usd_per_1000_images=usd,
        rekognition_usd_per_1000_images=REKOGNITION_DETECT_LABELS_USD_PER_1000,
        times_cheaper_than_rekognition=REKOGNITION_DETECT_LABELS_USD_PER_1000 / usd if usd else float("inf"),
        source=PRICES_SOURCE,
    )
