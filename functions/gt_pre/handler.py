"""Ground Truth pre-annotation Lambda: one manifest line → the task input of the template."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.core.labelling.consolidation import pre_annotation

logger = Logger()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return pre_annotation(event, os.environ["SKILLFORGE_CROPS_BUCKET"])
