"""Finds and loads skill versions: by registry + deployment state (the pipeline), or in local folders."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from functions.core.base.artifacts import Artifacts
from functions.core.skills.deployment import DeploymentStore
from functions.core.skills.model import MANIFEST_FILE, ClassifierSkill, load_classifier, read_manifest
from functions.core.skills.registry import RegisteredSkill, SkillRegistry


class SkillSource(Protocol):
    def load(self, skill: str, version: int | None = None) -> ClassifierSkill: ...


class RegistrySkills:
    """Version None = the version deployed in the store's stage; loaded models are kept per version."""

    def __init__(self, registry: SkillRegistry, deployments: DeploymentStore, artifacts: Artifacts) -> None:
        self.registry = registry
        self.deployments = deployments
        self.artifacts = artifacts
        self._loaded: dict[tuple[str, int], ClassifierSkill] = {}

    def deployed_version(self, skill: str) -> int | None:
        current = self.deployments.current(skill)
        return current.version if current else None

    def entry(self, skill: str, version: int) -> RegisteredSkill:
        entry = self.registry.get(skill, version)
        if entry is None:
            raise ValueError(f"skill {skill!r} has no registered version {version}")
        return entry

    def load(self, skill: str, version: int | None = None) -> ClassifierSkill:
        if version is None:
            version = self.deployed_version(skill)
            if version is None:
                raise ValueError(
                    f"skill {skill!r} is not deployed in stage {self.deployments.stage!r} "
                    f"(promote a version with `skillforge promote {skill} VERSION`)"
                )
        key = (skill, version)
        if key not in self._loaded:
            folder = self.artifacts.local_folder(self.entry(skill, version).artifact_uri)
            self._loaded[key] = load_classifier(folder)
        return self._loaded[key]


class FolderSkills:
    """Skill version folders (each with a skill.json) anywhere under `root`; None = the highest version."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._loaded: dict[tuple[str, int], ClassifierSkill] = {}

    def folders(self) -> dict[tuple[str, int], Path]:
        found: dict[tuple[str, int], Path] = {}
        manifests = (  # linked folders too (`out/skills/car-make -> elsewhere`), which rglob skips
            Path(folder) / MANIFEST_FILE
            for folder, _, files in os.walk(self.root, followlinks=True)
            if MANIFEST_FILE in files
        )
        for path in sorted(manifests):
            manifest = read_manifest(path.parent)
            key = (manifest.skill, manifest.skill_version)
            if key in found:
                raise ValueError(
                    f"{manifest.skill} v{manifest.skill_version} twice: {found[key]} and {path.parent}"
                )
            found[key] = path.parent
        return found

    def folder(self, skill: str, version: int | None = None) -> tuple[int, Path]:
        """(version, folder) of `skill`: the given version, or the highest one."""
        folders = self.folders()
        versions = sorted(v for s, v in folders if s == skill)
        if not versions:
            raise ValueError(f"no version of skill {skill!r} under {self.root}")
        version = versions[-1] if version is None else version
        if (skill, version) not in folders:
            raise ValueError(f"skill {skill!r} has no version {version} under {self.root} (found {versions})")
        return version, folders[(skill, version)]

    def load(self, skill: str, version: int | None = None) -> ClassifierSkill:
        version, folder = self.folder(skill, version)
        if (skill, version) not in self._loaded:
            self._loaded[(skill, version)] = load_classifier(folder)
        return self._loaded[(skill, version)]
