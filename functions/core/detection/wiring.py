"""Builds the adapters of each use case from validated settings (once per cold start)."""

from __future__ import annotations

from functions.core.base.aws import client, resource
from functions.core.base.catalog import DynamoCatalog
from functions.core.base.dead_letters import DeadLetters
from functions.core.base.records import SkillRef
from functions.core.base.storage import BlobStore
from functions.core.base.versions import code_version
from functions.core.detection.detect import DetectDeps
from functions.core.detection.detector import Detector, UltralyticsDetector
from functions.core.detection.s3events import EventParseError
from functions.core.detection.settings import DeadLetterSettings, DetectorSettings, PipelineSettings


def build_detector(settings: DetectorSettings) -> Detector:
    """The configured backend; each one imports its runtime lazily (the light ones never import torch)."""
    if settings.detector_backend == "openvino":
        from functions.core.detection.light_detector import openvino_detector

        return openvino_detector(settings)
    if settings.detector_backend == "onnx":
        from functions.core.detection.light_detector import onnx_detector

        return onnx_detector(settings)
    return UltralyticsDetector(settings)


def build_detect_deps(
    pipeline: PipelineSettings | None = None,
    detector_settings: DetectorSettings | None = None,
    detector: Detector | None = None,
) -> DetectDeps:
    pipeline = pipeline or PipelineSettings()  # type: ignore[call-arg]
    detector_settings = detector_settings or DetectorSettings()
    return DetectDeps(
        store=BlobStore(client("s3", pipeline)),
        catalog=DynamoCatalog(resource("dynamodb", pipeline).Table(pipeline.catalog_table)),
        detector=detector or build_detector(detector_settings),
        settings=detector_settings,
        skill=SkillRef(
            skill=detector_settings.detector_skill,
            skill_version=detector_settings.detector_version,
            code_version=code_version(),
        ),
        crops_bucket=pipeline.crops_bucket,
        quarantine_bucket=pipeline.quarantine_bucket,
    )


def build_detect_dead_letters(settings: DeadLetterSettings | None = None) -> DeadLetters | None:
    """The detect queue's DLQ, for messages given up on with their reason (None: no DLQ URL configured,
    failures are left to the queue's redrive policy)."""
    settings = settings or DeadLetterSettings()
    if not settings.detect_dlq_url:
        return None
    return DeadLetters(
        sqs=client("sqs", settings),
        queue_url=settings.detect_dlq_url,
        max_receive_count=settings.detect_max_receive_count,
        permanent=(EventParseError,),
    )


def detector_ref(settings: DetectorSettings) -> SkillRef:
    """The detector skill and code version stamped on every result."""
    return SkillRef(
        skill=settings.detector_skill, skill_version=settings.detector_version, code_version=code_version()
    )
