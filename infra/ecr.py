"""ECR image URIs: which repository an image lives in (the training role may pull that one only)."""

from __future__ import annotations

import re

_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/(?P<repo>[^:@]+)"
)


def image_repository_arn(image_uri: str) -> str:
    """ECR repository ARN of an image URI (`<account>.dkr.ecr.<region>.amazonaws.com/<repo>[:tag]`)."""
    match = _IMAGE.match(image_uri)
    if not match:
        raise ValueError(
            f"training image {image_uri!r} is not an ECR image URI (<account>.dkr.ecr.<region>…)"
        )
    return f"arn:aws:ecr:{match['region']}:{match['account']}:repository/{match['repo']}"
