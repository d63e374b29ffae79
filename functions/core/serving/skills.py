"""Deployed skill versions loaded for serving: ONNX Runtime only (no torch), cached per container.

The version comes from the deployment mapping (SSM, through the store's TTL cache), so a promotion
is served within the TTL without a redeploy. A version's `skill.json` and ONNX export are fetched
from its artifact folder once per container; a version whose artifact is missing or corrupt is
remembered as broken for the TTL (no download storm, no crash loop) and reported with a reason.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

from botocore.exceptions import ClientError
from pydantic import ValidationError

from functions.core.base.artifacts import Artifacts, join_uri
from functions.core.base.storage import ObjectMissingError
from functions.core.skills.deployment import DeploymentStore
from functions.core.skills.manifest import SkillManifest
from functions.core.skills.model import MANIFEST_FILE, ClassifierSkill, load_classifier

ARTIFACT_MISSING = "skill_artifact_missing"
ARTIFACT_CORRUPT = "skill_artifact_corrupt"
NOT_DEPLOYED = "skill_not_deployed"


class SkillUnavailableError(Exception):
    """A deployed skill version cannot answer; `reason` is what the crop record says."""

    def __init__(self, skill: str, version: int | None, reason: str, detail: str) -> None:
        super().__init__(f"{skill} v{version}: {reason}: {detail}")
        self.skill = skill
        self.version = version
        self.reason = reason
        self.detail = detail


def load_onnx_skill(artifacts: Artifacts, artifact_uri: str, cache_dir: Path) -> ClassifierSkill:
    """Fetch skill.json and the ONNX export of one version and load them.

    The cache is keyed by the URI *and* the bytes of its skill.json (read on every load: one small GET),
    never by the URI alone: a bucket that outlives its registry (a re-created stack, a new local run)
    can hold another training's version 1 under the same URI, and a stale copy must never answer.
    Raises FileNotFoundError when the artifact or a file of it is missing, ValueError when it is corrupt.
    """
    if artifact_uri.endswith(".tar.gz"):
        folder = artifacts.local_folder(artifact_uri)
    else:
        manifest_bytes = _read(artifacts, join_uri(artifact_uri, MANIFEST_FILE))
        folder = cache_dir / hashlib.sha256(artifact_uri.encode() + manifest_bytes).hexdigest()[:16]
        manifest_path = folder / MANIFEST_FILE
        if not manifest_path.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            _write(manifest_path, manifest_bytes)
        onnx = _onnx_name(_manifest(manifest_bytes, artifact_uri), artifact_uri)
        if not (folder / onnx).is_file():
            _fetch(artifacts, join_uri(artifact_uri, onnx), folder / onnx)
    _onnx_name(_manifest((folder / MANIFEST_FILE).read_bytes(), artifact_uri), artifact_uri)
    try:
        return load_classifier(folder, backend="onnx")
    except (FileNotFoundError, ValueError):
        raise
    except Exception as exc:  # onnxruntime raises its own types for a truncated or invalid model
        raise ValueError(f"{artifact_uri}: the ONNX export is not a loadable model: {exc}") from exc


def _read(artifacts: Artifacts, uri: str) -> bytes:
    try:
        return artifacts.read_bytes(uri)
    except ObjectMissingError as exc:
        raise FileNotFoundError(f"{uri} is missing") from exc


def _fetch(artifacts: Artifacts, uri: str, path: Path) -> None:
    _write(path, _read(artifacts, uri))


def _write(path: Path, data: bytes) -> None:
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_bytes(data)
    partial.replace(path)  # never a half-written file under the final name


def _manifest(data: bytes, artifact_uri: str) -> SkillManifest:
    try:
        return SkillManifest.model_validate_json(data)
    except ValidationError as exc:
        raise ValueError(f"{artifact_uri}: {MANIFEST_FILE} is not a valid skill manifest: {exc}") from exc


def _onnx_name(manifest: SkillManifest, artifact_uri: str) -> str:
    if manifest.onnx is None:
        raise ValueError(
            f"{artifact_uri}: skill {manifest.skill} v{manifest.skill_version} has no ONNX export"
        )
    return manifest.onnx


SkillFactory = Callable[[str], ClassifierSkill]


class DeployedSkills:
    """The deployed version of each skill, loaded once per container; broken ones remembered for `ttl_s`."""

    def __init__(
        self,
        deployments: DeploymentStore,
        load: SkillFactory,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.deployments = deployments
        self.load_uri = load
        self.clock = clock
        self._loaded: dict[tuple[str, int], ClassifierSkill] = {}
        self._broken: dict[tuple[str, int], tuple[float, SkillUnavailableError]] = {}
        self._lock = threading.Lock()  # crops are answered on several threads: one load per version

    def version(self, skill: str) -> tuple[int, str] | None:
        """(version, artifact URI) deployed now (TTL cache), None when the skill is not deployed."""
        current = self.deployments.current(skill)
        return (current.version, current.artifact_uri) if current else None

    def get(self, skill: str, pinned: tuple[int, str] | None = None) -> ClassifierSkill:
        """The deployed (or `pinned`) version of `skill`; SkillUnavailableError says why it cannot answer.

        A transient AWS error (throttling, network) is raised as is, so the caller's message is retried.
        """
        deployed = pinned or self.version(skill)
        if deployed is None:
            raise SkillUnavailableError(skill, None, NOT_DEPLOYED, "no version is deployed in this stage")
        version, uri = deployed
        key = (skill, version)
        loaded = self._loaded.get(key)
        if loaded is not None:
            return loaded
        with self._lock:
            return self._load(skill, version, uri)

    def _load(self, skill: str, version: int, uri: str) -> ClassifierSkill:
        key = (skill, version)
        if key in self._loaded:  # another thread loaded it while this one waited
            return self._loaded[key]
        broken = self._broken.get(key)
        if broken is not None and self.clock() - broken[0] < self.deployments.ttl_s:
            raise broken[1]
        try:
            loaded = self.load_uri(uri)
        except FileNotFoundError as exc:
            error = SkillUnavailableError(skill, version, ARTIFACT_MISSING, str(exc))
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}:
                raise
            error = SkillUnavailableError(skill, version, ARTIFACT_MISSING, str(exc))
        except ValueError as exc:
            error = SkillUnavailableError(skill, version, ARTIFACT_CORRUPT, str(exc))
        else:
            if loaded.ref.skill != skill or loaded.ref.skill_version != version:
                error = SkillUnavailableError(
                    skill,
                    version,
                    ARTIFACT_CORRUPT,
                    f"{uri} holds {loaded.ref.skill} v{loaded.ref.skill_version}, not {skill} v{version}",
                )
            else:
                self._loaded[key] = loaded
                self._broken.pop(key, None)
                return loaded
        self._broken[key] = (self.clock(), error)
        raise error
