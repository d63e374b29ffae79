"""Test support for the gate side: tiny real skills, a fake detector, seeding registry and harness."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from functions.core.base.artifacts import Artifacts
from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import Box, Detection, SkillRef
from functions.core.base.storage import BlobStore
from functions.core.detection.settings import DetectorSettings
from functions.core.gate.evaluation import EvaluateDeps
from functions.core.gate.regression import NO_CAR, Harness, HarnessCase, HarnessStore
from functions.core.gate.rule import GateConfig, GateLog
from functions.core.skills.deployment import DeploymentStore
from functions.core.skills.model import MANIFEST_FILE, read_manifest
from functions.core.skills.registry import RegisteredSkill, SkillRegistry
from tests.support.tiny_skill import write_synthetic_images

CLASSES = ["red", "green", "blue"]


class BlobDetector:
    """Finds one 'car' covering the image unless the image is flat (a synthetic no-car photo)."""

    def detect(self, image: Image.Image) -> list[Detection]:
        if float(np.asarray(image).std()) < 3.0:
            return []
        return [Detection(box=Box(x1=0, y1=0, x2=image.width, y2=image.height), confidence=0.9, label="car")]


def evaluate_deps(
    table: Any, s3: Any, ssm: Any, artifacts_bucket: str, cache: Path, gate: GateConfig
) -> EvaluateDeps:
    """Evaluate dependencies on moto, with the fake detector and the given gate rule."""
    artifacts = Artifacts(BlobStore(s3), cache_dir=cache)
    return EvaluateDeps(
        registry=SkillRegistry(table),
        deployments=DeploymentStore(ssm, "test", ttl_s=0),
        artifacts=artifacts,
        harnesses=HarnessStore(artifacts, f"s3://{artifacts_bucket}/harness"),
        catalog=DynamoCatalog(table),
        gate_log=GateLog(table),
        detector=BlobDetector(),
        detector_settings=DetectorSettings(),
        detector_ref=SkillRef(skill="car-detector", skill_version=1, code_version="det0001"),
        skills_base_uri=f"s3://{artifacts_bucket}/skills",
        gate=gate,
    )


def skill_version_copy(source: Path, target: Path, version: int, **changes: Any) -> Path:
    """A copy of a skill folder registered as another version (weights unchanged)."""
    shutil.copytree(source, target)
    manifest = read_manifest(target).model_copy(update={"skill_version": version, **changes})
    (target / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    return target


def register_folder(
    registry: SkillRegistry, artifacts: Artifacts, folder: Path, bucket: str
) -> RegisteredSkill:
    manifest = read_manifest(folder)
    uri = f"s3://{bucket}/skills/{manifest.skill}/v{manifest.skill_version:06d}"
    artifacts.upload_folder(folder, uri)
    return registry.register(manifest, uri)


def freeze_synthetic_harness(
    store: HarnessStore, artifacts: Artifacts, skill: str, bucket: str, tmp: Path, per_class: int = 4
) -> Harness:
    """Synthetic harness in S3: `per_class` images of each colour plus two flat (no car) images."""
    written = write_synthetic_images(tmp / "harness", CLASSES, per_class, seed=7)
    cases: list[HarnessCase] = []
    for label, paths in written.items():
        for path in paths:
            uri = f"s3://{bucket}/harness/{skill}/images/{label}/{path.name}"
            artifacts.write_bytes(uri, path.read_bytes())
            cases.append(HarnessCase(case_id=f"{label}-{path.stem}", image_uri=uri, expected=label))
    for n in range(2):
        flat = tmp / f"flat{n}.png"
        Image.new("RGB", (64, 64), (120 + n, 120, 120)).save(flat)
        uri = f"s3://{bucket}/harness/{skill}/images/no-car/{flat.name}"
        artifacts.write_bytes(uri, flat.read_bytes())
        cases.append(HarnessCase(case_id=f"flat-{n}", image_uri=uri, expected=NO_CAR))
    harness = Harness.freeze(skill, cases, description="synthetic colours")
    store.save(harness)
    return harness


@pytest.fixture(scope="session")
def tiny_skill_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two real Ultralytics classification skills of 'colour' (built once per session, seconds):
    'good' trained on synthetic colour images, 'poor' left untrained; both version 1."""
    from tests.support.tiny_skill import build_tiny_skill

    root = tmp_path_factory.mktemp("tiny-skills")
    build_tiny_skill(root / "good", "colour", 1, steps=12, seed=0)
    build_tiny_skill(root / "poor", "colour", 1, steps=0, seed=1)
    return {"good": root / "good", "poor": root / "poor"}


class SlackServer:
    """A local stand-in for Slack's incoming webhook on 127.0.0.1: records JSON bodies, or fails on demand."""

    def __init__(self, fail_first: int = 0, fail_status: int = 503, retry_after: int | None = None) -> None:
        import http.server
        import threading

        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                server.attempts += 1
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if server.attempts <= fail_first:
                    self.send_response(fail_status)
                    if retry_after is not None:
                        self.send_header("Retry-After", str(retry_after))
                    self.end_headers()
                    return
                server.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        port = self.httpd.server_address[1]
        return f"http://127.0.0.1:{port}/services/T000/B000/secret-token-XYZ"

    def __enter__(self) -> SlackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
