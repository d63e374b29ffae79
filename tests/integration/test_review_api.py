"""The review API router against moto: decisions, undo, refusals (401/403/404/409, nothing written),
token expiry, cross-site requests (in the router and in the real local server) and secret-free logs."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropStatus
from functions.core.base.storage import BlobStore
from functions.core.labelling import review_api
from functions.core.labelling.review_api import (
    ApiRequest,
    ApiResponse,
    CognitoClaimsAuthenticator,
    ReviewApi,
    TokenAuthenticator,
    apigw_response,
    request_from_apigw,
)
from scripts.local.review_server import serving
from tests.support.labelling import add_crop

TOKEN = "local-token-0123456789abcdef"
AUTH = {"authorization": f"Bearer {TOKEN}"}
PAGE = "http://127.0.0.1:8765"
EVIL = "https://evil.example"
APPROVE = {"variant": "audi-a4", "approve": ["img0000-00"]}


@pytest.fixture
def api(moto_aws: dict[str, Any]) -> ReviewApi:
    for n in range(3):
        add_crop(moto_aws, n, hint="audi-a4", status=CropStatus.IN_REVIEW)
    add_crop(moto_aws, 7, hint="bmw-3", status=CropStatus.IN_REVIEW)
    return ReviewApi(
        DynamoCatalog(moto_aws["table"]),
        BlobStore(moto_aws["s3"]),
        TokenAuthenticator(TOKEN),
        allowed_origins=[PAGE],
    )


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


def test_the_queue_says_which_car_is_the_main_one(api: ReviewApi, moto_aws: dict[str, Any]) -> None:
    # GIVEN a background car of a photo in review (not the main car: it has no hint)
    add_crop(moto_aws, 9, hint=None, status=CropStatus.IN_REVIEW, main_car=False)
    # WHEN the expert opens the hinted grid and the no-hint grid
    hinted = call(api, "GET", "/api/queue", variant="audi-a4").json()["items"]
    others = call(api, "GET", "/api/queue", variant="(no hint)").json()["items"]
    # THEN the main cars are marked as such, and the background car as another car of its photo
    assert all(item["main_car"] is True for item in hinted)
    assert [item["main_car"] for item in others] == [False]


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
    call(api, "POST", "/api/decisions", {"variant": "audi-a4", "corrections": {"img0002-00": "audi-a6"}})
    call(api, "POST", "/api/decisions", {"variant": "bmw-3", "reject": ["img0007-00"]})
    # THEN the correction is the final class (and a known class from now on), the rejected crop rejected
    assert catalog.get_crop("img0002-00").final_class == "audi-a6"  # type: ignore[union-attr]
    assert catalog.get_crop("img0007-00").status is CropStatus.REJECTED  # type: ignore[union-attr]
    assert "audi-a6" in call(api, "GET", "/api/variants").json()["classes"]
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


def test_expired_token_is_401_token_expired_and_nothing_is_written(
    api: ReviewApi, moto_aws: dict[str, Any]
) -> None:
    # GIVEN a local token made 8 hours and 1 second ago (default lifetime 8 hours)
    made = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
    now = [made]
    api.auth = TokenAuthenticator(TOKEN, clock=lambda: now[0])
    assert call(api, "GET", "/api/me").status == 200
    now[0] = made + timedelta(hours=8, seconds=1)
    before = snapshot(moto_aws)
    # WHEN the correct token is used for a decision and for reading
    decision = call(api, "POST", "/api/decisions", APPROVE)
    queue = call(api, "GET", "/api/queue", variant="audi-a4")
    # THEN 401 "token expired", no data, and the catalog is unchanged
    assert (decision.status, decision.json()) == (401, {"error": "token expired"})
    assert queue.status == 401 and "items" not in queue.json()
    assert snapshot(moto_aws) == before


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "origin", [EVIL, "null", "http://127.0.0.1:9999", "http://127.0.0.1:8765.evil.example"]
)
def test_state_changing_request_from_another_origin_is_403_and_writes_nothing(
    api: ReviewApi, moto_aws: dict[str, Any], method: str, origin: str
) -> None:
    # GIVEN a valid token (a page elsewhere that somehow holds it, or a user tricked into a form post)
    before = snapshot(moto_aws)
    # WHEN a state-changing request comes with a foreign Origin
    response = call(api, method, "/api/decisions", APPROVE, headers={**AUTH, "origin": origin})
    # THEN 403 naming the reason, and the catalog is unchanged
    assert (response.status, response.json()) == (403, {"error": "cross-origin request refused"})
    assert snapshot(moto_aws) == before


def test_writes_from_the_served_origin_or_without_origin_are_accepted(api: ReviewApi) -> None:
    # WHEN the page itself posts (its Origin) or a script posts without Origin (the token decides)
    from_page = call(api, "POST", "/api/decisions", APPROVE, headers={**AUTH, "origin": PAGE})
    no_origin = call(api, "POST", "/api/decisions", {"variant": "bmw-3", "reject": ["img0007-00"]})
    # THEN both are written
    assert (from_page.status, no_origin.status) == (201, 201)


def test_reads_never_carry_cors_allow_headers(api: ReviewApi) -> None:
    # WHEN another origin reads (a browser would block it without Access-Control-Allow-Origin)
    responses = [
        call(api, "GET", "/api/queue", headers={**AUTH, "origin": EVIL}, variant="audi-a4"),
        call(api, "GET", "/api/crops/img0000-00/image", headers={**AUTH, "origin": EVIL}),
        call(api, "GET", "/api/me", headers={"origin": EVIL}),
        call(api, "GET", "/", headers={"origin": EVIL}),
    ]
    # THEN no response grants it: no Access-Control-Allow-* header at all
    for response in responses:
        assert not [name for name in response.headers if name.lower().startswith("access-control-")]


def test_cors_preflight_from_another_origin_gets_no_allow_headers(api: ReviewApi) -> None:
    # WHEN a foreign page asks whether it may POST JSON with an Authorization header
    preflight = {
        "origin": EVIL,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }
    response = call(api, "OPTIONS", "/api/decisions", headers=preflight)
    # THEN refused without any Access-Control-Allow-* header (the browser then sends nothing)
    assert response.status == 403
    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


def test_api_gateway_post_from_another_origin_is_refused_before_the_claims(moto_aws: dict[str, Any]) -> None:
    # GIVEN the cloud API with its own origin allowed (SKILLFORGE_REVIEW_ALLOWED_ORIGIN)
    add_crop(moto_aws, 1, status=CropStatus.IN_REVIEW)
    own = "https://abc123.execute-api.eu-west-1.amazonaws.com"
    api = ReviewApi(
        DynamoCatalog(moto_aws["table"]),
        BlobStore(moto_aws["s3"]),
        CognitoClaimsAuthenticator(),
        allowed_origins=[own],
    )
    before = snapshot(moto_aws)

    def post(origin: str) -> dict[str, Any]:
        event = {
            "httpMethod": "POST",
            "path": "/api/decisions",
            "headers": {"Origin": origin},
            "body": json.dumps({"variant": "audi-a4", "approve": ["img0001-00"]}),
            "requestContext": {"authorizer": {"claims": {"email": "expert@example.com"}}},
        }
        return apigw_response(api.handle(request_from_apigw(event)))

    # WHEN a verified expert's browser posts from another origin, then from the page's own
    refused = post(EVIL)
    assert refused["statusCode"] == 403 and snapshot(moto_aws) == before
    # THEN only the page's own origin writes
    assert post(own)["statusCode"] == 201


def _send(
    url: str, method: str, headers: dict[str, str], body: Any = None
) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def test_real_local_server_refuses_cross_site_writes_and_preflights(
    api: ReviewApi, moto_aws: dict[str, Any]
) -> None:
    # GIVEN the real local review server on 127.0.0.1 (it allows its own origin once bound)
    with serving(api) as url:
        own_origin = url.rstrip("/")
        before = snapshot(moto_aws)
        json_auth = {**AUTH, "Content-Type": "application/json"}
        # WHEN a foreign origin posts with the valid token, and sends a CORS preflight
        post = _send(url + "api/decisions", "POST", {**json_auth, "Origin": EVIL}, APPROVE)
        delete = _send(url + "api/decisions", "DELETE", {**AUTH, "Origin": EVIL})
        preflight = _send(
            url + "api/decisions",
            "OPTIONS",
            {
                "Origin": EVIL,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        # THEN 403 each time, no Access-Control-Allow-* header, and nothing written
        assert (post[0], delete[0], preflight[0]) == (403, 403, 403)
        assert json.loads(post[2]) == {"error": "cross-origin request refused"}
        for _, headers, _ in (post, delete, preflight):
            assert not [name for name in headers if name.lower().startswith("access-control-")]
        assert snapshot(moto_aws) == before
        # AND the page's own origin (the printed URL) writes, without any CORS header either
        own = _send(url + "api/decisions", "POST", {**json_auth, "Origin": own_origin}, APPROVE)
        assert own[0] == 201
        assert "Access-Control-Allow-Origin" not in own[1]


def test_the_token_is_never_logged(api: ReviewApi, caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN every record of the review API's logger captured at DEBUG, structured extras included
    # (a powertools child logger: its records are handled by the service logger, so catch them here)
    api_logger = logging.getLogger(review_api.logger.name)
    api_logger.addHandler(caplog.handler)
    made = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
    now = [made]
    api.auth = TokenAuthenticator(TOKEN, clock=lambda: now[0])
    try:
        with caplog.at_level(logging.DEBUG, logger=api_logger.name):
            # WHEN authenticated requests, then refused ones carrying the token, are made
            call(api, "POST", "/api/decisions", APPROVE)
            call(api, "POST", "/api/undo")
            call(api, "POST", "/api/decisions", APPROVE, headers={**AUTH, "origin": EVIL})
            call(api, "OPTIONS", "/api/decisions", headers={**AUTH, "origin": EVIL})
            call(api, "GET", "/api/queue", headers={"authorization": f"Basic {TOKEN}"}, variant="audi-a4")
            call(api, "GET", "/api/me", headers={"authorization": f"Bearer {TOKEN}x"})
            now[0] = made + timedelta(days=1)
            call(api, "GET", "/api/me")
    finally:
        api_logger.removeHandler(caplog.handler)
    # THEN decisions and refusals were logged, and no record holds the token in any field
    records = list({id(record): record for record in caplog.records}.values())  # once, even if propagated
    messages = [record.getMessage() for record in records]
    assert messages.count("review decision") == 1 and messages.count("review API refused") == 5
    logged = json.dumps([vars(record) for record in records], default=str)
    assert "token expired" in logged and "cross-origin request refused" in logged
    assert TOKEN not in logged and TOKEN[:12] not in logged
