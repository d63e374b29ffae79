"""Install size of a requirements set: the installed distributions it pulls in, summed from their RECORDs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

GPU_ONLY = re.compile(r"^(nvidia-|cuda-|triton$)")


@dataclass
class SizeReport:
    total_bytes: int = 0
    by_distribution: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def top(self, count: int = 5) -> list[tuple[str, int]]:
        return sorted(self.by_distribution.items(), key=lambda item: -item[1])[:count]

    def without_gpu_packages(self) -> int:
        return sum(size for name, size in self.by_distribution.items() if not GPU_ONLY.match(name))


def requirement_names(path: Path) -> list[str]:
    """Top-level names of a pinned requirements file, following `-r other.txt`."""
    names: list[str] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r"):
            names += requirement_names(path.parent / line[2:].strip())
            continue
        try:
            names.append(canonicalize_name(Requirement(line).name))
        except InvalidRequirement as exc:
            raise ValueError(f"{path}: cannot parse requirement line {raw!r}") from exc
    return names


def distribution_bytes(dist: metadata.Distribution) -> int:
    """Sum of the file sizes listed in the RECORD (stat the file where RECORD has no size)."""
    total = 0
    for entry in dist.files or []:
        if entry.size is not None:
            total += entry.size
            continue
        located = Path(str(dist.locate_file(entry)))
        if located.is_file():
            total += located.stat().st_size
    return total


def closure_size(requirements: Path) -> SizeReport:
    """Every installed distribution reachable from the file's requirements (markers evaluated here)."""
    report = SizeReport()
    pending = requirement_names(requirements)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            report.missing.append(name)
            continue
        report.by_distribution[name] = distribution_bytes(dist)
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(canonicalize_name(requirement.name))
    report.total_bytes = sum(report.by_distribution.values())
    return report


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0
