"""The code version (git commit) stamped on every result."""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

_BAKED = Path(__file__).with_name("CODE_VERSION")


@cache
def code_version() -> str:
    """Commit of the running code: baked at build time, else the env, else git, else 'unknown'."""
    env = os.environ.get("SKILLFORGE_CODE_VERSION")
    if env:
        return env
    if _BAKED.is_file():
        baked = _BAKED.read_text(encoding="utf-8").strip()
        if baked:
            return baked
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        sha = out.stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
        return f"{sha}-dirty" if dirty else sha
    except (OSError, subprocess.SubprocessError):
        return "unknown"
