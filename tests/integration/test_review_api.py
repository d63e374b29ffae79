"""The review API router against moto: decisions, undo, refusals (401/403/404/409, nothing written)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.core.catalog import DynamoCatalog
from functions.core.models import CropStatus
from functions.core.review_api import (
    ApiRequest,
    ApiResponse,
    CognitoClaimsAuthenticator,
    ReviewApi,
    TokenAuthenticator,
    apigw_response,
    request_from_apigw,
)
from functions.core.storage import BlobStore
from tests.integration.labelling_helpers import add_crop

TOKEN = "local-token-0123456789abcdef"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def api(moto_aws: dict[str, Any]) -> ReviewApi:
    for n in range(3):
        add_crop(moto_aws, n, hint="audi-a4", status=CropStatus.IN_REVIEW)
    add_crop(moto_aws, 7, hint="bmw-3", status=CropStatus.IN_REVIEW)
    return ReviewApi(DynamoCatalog(moto_aws["table"]), BlobStore(moto_aws["s3"]), TokenAuthenticator(TOKEN))


def call(
    api: ReviewApi,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    **query: str,
) -> ApiResponse:
    raw = json.dumps(body).encode() if body is not None else b""
    return api.handle(ApiRequest(method, path, AUTH if headers is None else headers, query, raw))


def snapshot(moto_aws: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(moto_aws["table"].scan()["Items"], key=lambda i: i["pk"])


def test_queue_lists_the_variant_with_boxes_inside_the_crop(api: ReviewApi) -> None:
    # GIVEN crops in review / WHEN the expert asks for the audi-a4 grid
    response = call(api, "GET", "/api/queue", variant="audi-a4")
    # THEN three items with their box as fractions of the crop
    items = response.json()["items"]
    assert response.status == 200 and len(items) == 3
    x1, y1, x2, y2 = items[0]["box"]
    assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1 and (x2 - x1) > 0.7
    variants = call(api, "GET", "/api/variants").json()
    assert variants["variants"] == {"audi-a4": 3, "bmw-3": 1}
    assert variants["progress"] == {"done": 0, "remaining": 4}


def test_approve_correct_reject_and_undo(api: ReviewApi, moto_aws: dict[str, Any]) -> None:
    catalog = DynamoCatalog(moto_aws["table"])
    # GIVEN the audi-a4 grid / WHEN two are approved in one action
    ok = call(api, "POST", "/api/decisions", {"variant": "audi-a4", "approve": ["img0000-00", "img0001-00"]})
    # THEN both are verified as audi-a4 with reviewer and time
    assert ok.status == 201 and ok.json()["progress"] == {"done": 2, "remaining": 2}
    verified = catalog.get_crop("img0000-00")
    assert verified and verified.status is CropStatus.VERIFIED and verified.final_class == "audi-a4"
    assert verified.reviewer == "local-expert" and verified.reviewed_at is not None
    # WHEN one is corrected by typing a variant, another rejected
    call(api, "POST", "/api/decisions", {"variant": "audi-a4", "corrections": {"img0002-00": "Audi A6"}})
    call(api, "POST", "/api/decisions", {"variant": "bmw-3", "reject": ["img0007-00"]})
    # THEN the correction is the final class (and a known class from now on), the rejected crop rejected
    assert catalog.get_crop("img0002-00").final_class == "Audi A6"  # type: ignore[union-attr]
    assert catalog.get_crop("img0007-00").status is CropStatus.REJECTED  # type: ignore[union-attr]
    assert "Audi A6" in call(api, "GET", "/api/variants").json()["classes"]
    # WHEN the last decision is undone, twice
    call(api, "POST", "/api/undo")
    undo = call(api, "POST", "/api/undo")
    # THEN the rejection and the correction are back in review, the approvals stay
    assert undo.status == 200 and undo.json()["progress"] == {"done": 2, "remaining": 2}
    back = catalog.get_crop("img0002-00")
    assert back and back.status is CropStatus.IN_REVIEW and back.final_class is None and back.reviewer is None
    assert catalog.get_crop("img0007-00").status is CropStatus.IN_REVIEW  # type: ignore[union-attr]
    assert catalog.get_crop("img0000-00").status is CropStatus.VERIFIED  # type: ignore[union-attr]


def test_missing_token_is_401_and_forged_token_is_403_and_nothing_is_written(
    api: ReviewApi, moto_aws: dict[str, Any]
) -> None:
    before = snapshot(moto_aws)
    body = {"variant": "audi-a4", "approve": ["img0000-00"]}
    # WHEN the API is called without a token, with a forged one, with another scheme
    missing = call(api, "POST", "/api/decisions", body, headers={})
    forged = call(
        api, "POST", "/api/decisions", body, headers={"authorization": "Bearer forged-token-xxxxxxxx"}
    )
    basic = call(api, "GET", "/api/queue", headers={"authorization": f"Basic {TOKEN}"}, variant="audi-a4")
    # THEN 401 / 403 / 403, no data, and the catalog is unchanged
    assert (missing.status, forged.status, basic.status) == (401, 403, 403)
    assert "items" not in basic.json()
    assert snapshot(moto_aws) == before


def test_decision_for_a_crop_that_no_longer_exists_is_404_and_writes_nothing(
    api: ReviewApi, moto_aws: dict[str, Any]
) -> None:
    # GIVEN one crop of the grid was deleted meanwhile
    moto_aws["table"].delete_item(Key={"pk": "crop#img0001-00"})
    before = snapshot(moto_aws)
    # WHEN the grid is approved including it
    response = call(
        api, "POST", "/api/decisions", {"variant": "audi-a4", "approve": ["img0000-00", "img0001-00"]}
    )
    # THEN 404 naming the crop, and the other crop was not verified either
    assert response.status == 404 and "img0001-00" in response.json()["error"]
    assert snapshot(moto_aws) == before


def test_decision_on_an_already_reviewed_crop_is_a_conflict(api: ReviewApi) -> None:
    # GIVEN a crop already verified / WHEN decided again / THEN 409
    call(api, "POST", "/api/decisions", {"variant": "audi-a4", "approve": ["img0000-00"]})
    again = call(api, "POST", "/api/decisions", {"variant": "audi-a4", "reject": ["img0000-00"]})
    assert again.status == 409


@pytest.mark.parametrize(
    "body",
    [
        {"variant": "audi-a4"},
        {"variant": "audi-a4", "approve": ["img0000-00"], "reject": ["img0000-00"]},
        {"variant": "audi-a4", "corrections": {"img0000-00": "  "}},
        {"variant": "audi-a4", "corrections": {"img0000-00": "<script>"}},
    ],
)
def test_bad_decisions_are_400(api: ReviewApi, body: dict[str, Any]) -> None:
    assert call(api, "POST", "/api/decisions", body).status == 400


def test_undo_with_nothing_to_undo_is_a_conflict(api: ReviewApi) -> None:
    assert call(api, "POST", "/api/undo").status == 409


def test_static_page_is_public_but_holds_no_data(api: ReviewApi) -> None:
    # WHEN the page is fetched without a token / THEN the HTML shell, with security headers
    page = call(api, "GET", "/", headers={})
    assert page.status == 200 and b"expert review" in page.body
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]


def test_crop_image_is_served_to_the_signed_in_reviewer_only(api: ReviewApi) -> None:
    image = call(api, "GET", "/api/crops/img0000-00/image")
    assert image.status == 200 and image.body[:2] == b"\xff\xd8"
    assert call(api, "GET", "/api/crops/img0000-00/image", headers={}).status == 401
    assert call(api, "GET", "/api/crops/nope-00/image").status == 404


def test_api_gateway_event_with_cognito_claims(moto_aws: dict[str, Any]) -> None:
    # GIVEN the Lambda's API (Cognito claims) and an API Gateway proxy event
    add_crop(moto_aws, 1, status=CropStatus.IN_REVIEW)
    api = ReviewApi(DynamoCatalog(moto_aws["table"]), BlobStore(moto_aws["s3"]), CognitoClaimsAuthenticator())
    event = {
        "httpMethod": "POST",
        "path": "/api/decisions",
        "headers": {"Content-Type": "application/json"},
        "queryStringParameters": None,
        "body": json.dumps({"variant": "audi-a4", "approve": ["img0001-00"]}),
        "isBase64Encoded": False,
        "requestContext": {"authorizer": {"claims": {"email": "expert@example.com"}}},
    }
    # WHEN handled / THEN the reviewer is the verified email
    response = apigw_response(api.handle(request_from_apigw(event)))
    assert response["statusCode"] == 201
    assert DynamoCatalog(moto_aws["table"]).get_crop("img0001-00").reviewer == "expert@example.com"  # type: ignore[union-attr]
    # AND without claims it is refused; images come back base64-encoded
    event["requestContext"] = {}
    assert apigw_response(api.handle(request_from_apigw(event)))["statusCode"] == 401
    image_event = {
        "httpMethod": "GET",
        "path": "/api/crops/img0001-00/image",
        "requestContext": {"authorizer": {"claims": {"cognito:username": "x"}}},
    }
    image = apigw_response(api.handle(request_from_apigw(image_event)))
    assert image["isBase64Encoded"] is True
