"""The `shipped` section of `make bench`: size and cold start of what the cloud's detect function ships.

The detect function as `cdk synth` packages it (infra/artifacts.py's detect image: its requirement set
installed for its platform, the staged code and the model) run in an isolated interpreter on a real
photo: the cold start is interpreter start + imports + model load + the first upload handled (Lambda's
own init and the image pull come on top in the cloud).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

SHIPPED_FUNCTIONS = {"detect"}


def run(context: Any) -> dict[str, Any]:
    from scripts.artifacts_check import check, synthesize

    with tempfile.TemporaryDirectory() as outdir:
        outcomes = check(synthesize(Path(outdir)), only=SHIPPED_FUNCTIONS)
    return {
        outcome.function: {
            "artifact": outcome.artifact,
            "size_mb": round(outcome.size_mb, 1),
            "cold_start_s": round(outcome.cold_start_s, 2) if outcome.cold_start_s is not None else None,
            "imports_ok": outcome.imports_ok,
            "handled": outcome.handled[:120],
        }
        for outcome in outcomes
    }
