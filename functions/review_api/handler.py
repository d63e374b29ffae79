"""Review API + dashboard Lambda (API Gateway REST, Cognito authorizer): the same powertools resolver as
the local server, behind the same origin and reviewer checks."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from functions.core.dashboard.wiring import build_dashboard
from functions.core.labelling.review_api import ReviewApi
from functions.core.labelling.wiring import build_review_api

logger = Logger()


class ProxyRequest(BaseModel):
    """What the resolver needs of an API Gateway REST proxy event (the rest is read by powertools)."""

    model_config = ConfigDict(extra="allow")

    httpMethod: str = Field(min_length=1)  # noqa: N815 - API Gateway's field name
    path: str = Field(pattern=r"^/")


@cache
def api() -> ReviewApi:
    review = build_review_api()
    build_dashboard().attach(review)
    return review


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ProxyRequest.model_validate(event)  # an API Gateway REST proxy event, or a clear error
    return api().resolve(event, context)
