"""The review API validates what it is sent (issue: free-text labels, `?limit=abc` gave a 502): class
names follow a strict pattern, every numeric parameter is checked, a bad request is a clear 400 and
relabels nothing; the API describes itself in OpenAPI."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropStatus
from functions.core.base.storage import BlobStore
from functions.core.labelling.review_api import ApiRequest, ApiResponse, ReviewApi, TokenAuthenticator
from tests.support.labelling import add_crop

TOKEN = "local-token-0123456789abcdef"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def api(moto_aws: dict[str, Any]) -> ReviewApi:
    for n in range(2):
        add_crop(moto_aws, n, hint="audi-a4", status=CropStatus.IN_REVIEW)
    return ReviewApi(DynamoCatalog(moto_aws["table"]), BlobStore(moto_aws["s3"]), TokenAuthenticator(TOKEN))


def call(api: ReviewApi, method: str, path: str, body: Any = None, **query: str) -> ApiResponse:
    raw = json.dumps(body).encode() if body is not None else b""
    return api.handle(ApiRequest(method, path, AUTH, query, raw))


def snapshot(moto_aws: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(moto_aws["table"].scan()["Items"], key=lambda i: i["pk"])


BAD_NAMES = ["/", "..", "../../etc", "a/b", "audi\x00a4", "audi\na4", "x" * 200, "Audi A6", "<script>", ""]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_approving_with_a_bad_variant_is_400_and_relabels_nothing(
    api: ReviewApi, moto_aws: dict[str, Any], name: str
) -> None:
    # GIVEN crops in review and the table as it is
    before = snapshot(moto_aws)
    # WHEN an expert approves them as a variant that is no valid class name
    response = call(api, "POST", "/api/decisions", {"variant": name, "approve": ["img0000-00"]})
    # THEN 400 with a message naming the field, and nothing is written
    assert response.status == 400
    assert response.json()["error"].startswith("bad request: body")
    assert snapshot(moto_aws) == before


@pytest.mark.parametrize("name", BAD_NAMES)
def test_correcting_to_a_bad_class_is_400_and_relabels_nothing(
    api: ReviewApi, moto_aws: dict[str, Any], name: str
) -> None:
    before = snapshot(moto_aws)
    # WHEN a crop is corrected to a bad class name
    body = {"variant": "audi-a4", "corrections": {"img0001-00": name}}
    response = call(api, "POST", "/api/decisions", body)
    # THEN 400 naming the class-name rule, nothing written
    assert response.status == 400 and "class name" in response.json()["error"]
    assert snapshot(moto_aws) == before


@pytest.mark.parametrize("name", ["audi-a4", "bmw_x5", "dodge-charger-sedan-2012", "Audi", "mercedes-benz.c"])
def test_valid_class_names_are_accepted(api: ReviewApi, name: str) -> None:
    body = {"variant": "audi-a4", "corrections": {"img0001-00": name}}
    response = call(api, "POST", "/api/decisions", body)
    assert response.status == 201


@pytest.mark.parametrize("limit", ["abc", "0", "97", "-1", "1.5", ""])
def test_bad_limit_is_400_not_a_server_error(api: ReviewApi, limit: str) -> None:
    # WHEN the queue is asked for with a limit that is no integer in 1..96
    response = call(api, "GET", "/api/queue", variant="audi-a4", limit=limit)
    # THEN 400 naming the parameter
    assert response.status == 400
    assert "query limit" in response.json()["error"]


def test_good_limit_and_missing_variant(api: ReviewApi) -> None:
    assert len(call(api, "GET", "/api/queue", variant="audi-a4", limit="1").json()["items"]) == 1
    missing = call(api, "GET", "/api/queue")
    assert missing.status == 400 and "query variant" in missing.json()["error"]


def test_bad_crop_id_in_the_path_is_400(api: ReviewApi) -> None:
    assert call(api, "GET", "/api/crops/..%2F..%2Fx/image").status in {400, 404}
    assert call(api, "GET", "/api/crops/" + "x" * 81 + "/image").status == 400
    assert call(api, "GET", "/api/crops/nope-00/image").status == 404


def test_openapi_description_lists_the_routes_and_their_parameters(api: ReviewApi) -> None:
    # WHEN a reviewer fetches the OpenAPI description
    response = call(api, "GET", "/api/openapi.json")
    spec = response.json()
    # THEN it names every /api route, the limit bounds and the decision body
    assert response.status == 200 and spec["openapi"].startswith("3.")
    assert {"/api/me", "/api/variants", "/api/queue", "/api/decisions", "/api/undo"} <= set(spec["paths"])
    limit = next(p for p in spec["paths"]["/api/queue"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["minimum"] == 1 and limit["schema"]["maximum"] == 96
    assert "DecisionRequest" in json.dumps(spec["paths"]["/api/decisions"]["post"]["requestBody"])
