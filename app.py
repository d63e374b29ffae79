#!/usr/bin/env python3
"""CDK entry point (`npx cdk synth` / `python app.py`): typed config, stacks per stage, cdk-nag, synth."""

from __future__ import annotations

import sys

from infra.application import build_app
from infra.config import ConfigError

if __name__ == "__main__":
    try:
        app = build_app()
    except ConfigError as exc:
        sys.exit(f"skillforge: {exc}")
    app.synth()
