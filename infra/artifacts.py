"""What each deployed function runs on: its artifact and the artifact's requirement set, declared once.

CDK reads these to build the packages (the zip functions' dependencies layer installs `requirements`;
an image function's Dockerfile installs the file passed as its REQUIREMENTS build argument), and the
artifact tests (tests/artifacts, `make artifacts-check`) install the same files to run every handler
with nothing else. Plain data: no CDK, no clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Artifact:
    name: str
    kind: Literal["zip", "image"]
    requirements: str  # a file at the repository root
    dockerfile: str | None = None  # image artifacts: relative to the repository root
    # Where the artifact runs: zip functions on Lambda's python3.11 (Amazon Linux 2, glibc 2.26: wheels
    # up to manylinux2014), images on Amazon Linux 2023 (glibc 2.34: manylinux_2_34 and older).
    pip_platforms: tuple[str, ...] = ("manylinux2014_x86_64",)


ZIP_LAYER = Artifact("zip-layer", "zip", "requirements-lambda-zip.txt")
DETECT_IMAGE = Artifact(
    "detect-image",
    "image",
    "requirements-lambda-light.txt",
    dockerfile="functions/detect/Dockerfile",
    pip_platforms=tuple(f"manylinux_2_{minor}_x86_64" for minor in (34, 28, 17)),
)
EVALUATE_IMAGE = Artifact(
    "evaluate-image",
    "image",
    "requirements-evaluate.txt",
    dockerfile="functions/evaluate/Dockerfile",
    pip_platforms=tuple(f"manylinux_2_{minor}_x86_64" for minor in (34, 28, 17)),
)
ARTIFACTS = (ZIP_LAYER, DETECT_IMAGE, EVALUATE_IMAGE)


def by_requirements(requirements: str) -> Artifact:
    for artifact in ARTIFACTS:
        if artifact.requirements == requirements:
            return artifact
    raise KeyError(f"no artifact installs {requirements!r}")
