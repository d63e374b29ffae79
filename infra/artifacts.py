"""What each deployed function runs on: its artifact and the artifact's requirement set, declared once.

CDK reads these to build the packages (the zip functions' dependencies layer installs `requirements`;
an image function's Dockerfile installs the file passed as its REQUIREMENTS build argument), and the
artifact tests (tests/artifacts, `make artifacts-check`) install the same files to run every handler
with nothing else. Plain data: no CDK, no clients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    # False where the image takes some wheels from another index (torch's CPU builds): the artifact check
    # then resolves the set from the pinned packages' metadata instead of installing it.
    installable_here: bool = True
    # Packages the artifact leaves out on purpose although code in it can import them, with the reason.
    # The check accepts them only where they are imported lazily (inside a function), never at import.
    leaves_out: dict[str, str] = field(default_factory=dict)


_MODEL_STACK = (
    "the model stack (detector backends, classifier skills, Grad-CAM, the PDF report) runs in the detect and "
    "evaluate images; zip functions reach its modules only through the gate's record types and never call it"
)
ZIP_LAYER = Artifact(
    "zip-layer",
    "zip",
    "requirements-lambda-zip.txt",
    leaves_out={
        name: _MODEL_STACK
        for name in ("torch", "ultralytics", "openvino", "onnxruntime", "cv2", "yaml", "matplotlib", "fpdf")
    },
)
DETECT_IMAGE = Artifact(
    "detect-image",
    "image",
    "requirements-lambda-light.txt",
    dockerfile="functions/detect/Dockerfile",
    pip_platforms=tuple(f"manylinux_2_{minor}_x86_64" for minor in (34, 28, 17)),
    leaves_out={
        "ultralytics": "the Ultralytics detector backend (torch) is for the CLI and the evaluate image; this "
        "image sets SKILLFORGE_DETECTOR_BACKEND=openvino",
        "torch": "the torch backend of ClassifierSkill serves Grad-CAM in the evaluate image; this image "
        "answers uploads with the skills' ONNX exports on ONNX Runtime",
    },
)
EVALUATE_IMAGE = Artifact(
    "evaluate-image",
    "image",
    "requirements-evaluate.txt",
    dockerfile="functions/evaluate/Dockerfile",
    pip_platforms=tuple(f"manylinux_2_{minor}_x86_64" for minor in (34, 28, 17)),
    installable_here=False,
)
TRAINING_IMAGE = Artifact(
    "training-image",
    "image",
    "requirements-training.txt",
    dockerfile="training/Dockerfile",
    installable_here=False,  # torch and CUDA come with the SageMaker PyTorch base
)
ARTIFACTS = (ZIP_LAYER, DETECT_IMAGE, EVALUATE_IMAGE, TRAINING_IMAGE)


def by_dockerfile(dockerfile: str) -> Artifact:
    for artifact in ARTIFACTS:
        if artifact.dockerfile == dockerfile:
            return artifact
    raise KeyError(f"no artifact is built from {dockerfile!r}")


def by_requirements(requirements: str) -> Artifact:
    for artifact in ARTIFACTS:
        if artifact.requirements == requirements:
            return artifact
    raise KeyError(f"no artifact installs {requirements!r}")
