"""Synthesis reads names and config from runtime modules that build no clients and no loggers."""

from __future__ import annotations

import subprocess
import sys

from infra.config import REPO_ROOT

PROBE = """
import boto3, boto3.session, aws_lambda_powertools.logging.logger as powertools
built = []
powertools.Logger.__init__ = lambda self, *a, **k: built.append("Logger")
boto3.session.Session.client = lambda self, *a, **k: built.append("client")
boto3.session.Session.resource = lambda self, *a, **k: built.append("resource")
import infra.application
print(",".join(built) or "nothing")
"""


def test_importing_the_cdk_app_builds_no_logger_and_no_client() -> None:
    # GIVEN a fresh interpreter that records every powertools Logger and boto3 client built
    # WHEN it imports the CDK app (every construct and the runtime modules they read)
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO_ROOT,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        check=True,
    )
    # THEN nothing was built
    assert result.stdout.strip().splitlines()[-1] == "nothing"
