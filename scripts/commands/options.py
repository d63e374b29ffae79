"""Options shared by several sub-commands (no heavy imports: the parser is built on every call)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def add_state_argument(parser: Any) -> None:
    """--state: run the command in local mode, on the demo's saved state (restored, then saved back)."""
    parser.add_argument(
        "--state", type=Path, default=None, help="local mode: the demo's state folder (e.g. out/state)"
    )
