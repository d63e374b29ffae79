"""Review API credentials and presigned URLs: token lifetime, allowed origins, bounded URL expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config

from functions.core.base.storage import MAX_PRESIGN_EXPIRY_S, BlobStore
from functions.core.labelling.review_api import (
    DEFAULT_TOKEN_TTL,
    ApiRequest,
    AuthError,
    TokenAuthenticator,
    normalise_origin,
)

TOKEN = "unit-token-0123456789abcdef"
START = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def bearer(token: str) -> ApiRequest:
    return ApiRequest("GET", "/api/me", {"authorization": f"Bearer {token}"})


def test_token_is_valid_for_8_hours_by_default_then_expired() -> None:
    # GIVEN a token made at 09:00 with the default lifetime
    clock = Clock()
    auth = TokenAuthenticator(TOKEN, clock=clock)
    assert timedelta(hours=8) == DEFAULT_TOKEN_TTL and auth.expires_at == START + timedelta(hours=8)
    # WHEN used one second before and at the expiry
    clock.now = START + timedelta(hours=8) - timedelta(seconds=1)
    assert auth.reviewer(bearer(TOKEN)) == "local-expert"
    clock.now = START + timedelta(hours=8)
    # THEN the correct token is refused with 401 "token expired"
    with pytest.raises(AuthError) as refused:
        auth.reviewer(bearer(TOKEN))
    assert (refused.value.status, str(refused.value)) == (401, "token expired")


def test_a_forged_token_stays_403_after_expiry_so_expiry_reveals_nothing() -> None:
    clock = Clock()
    auth = TokenAuthenticator(TOKEN, ttl=timedelta(minutes=5), clock=clock)
    clock.now = START + timedelta(hours=1)
    with pytest.raises(AuthError) as refused:
        auth.reviewer(bearer("forged-token-0123456789abcdef"))
    assert refused.value.status == 403


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(hours=-1), timedelta(days=7, seconds=1)])
def test_token_lifetime_must_be_positive_and_at_most_a_week(ttl: timedelta) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        TokenAuthenticator(TOKEN, ttl=ttl)


def test_the_authenticator_s_repr_does_not_show_the_token() -> None:
    assert TOKEN not in repr(TokenAuthenticator(TOKEN)) and "expires_at=" in repr(TokenAuthenticator(TOKEN))


@pytest.mark.parametrize(
    ("origin", "normalised"),
    [("http://127.0.0.1:8765", "http://127.0.0.1:8765"), ("HTTPS://Abc.Example/", "https://abc.example")],
)
def test_origins_are_normalised(origin: str, normalised: str) -> None:
    assert normalise_origin(origin) == normalised


@pytest.mark.parametrize(
    "origin", ["null", "*", "https://a.example/prod/", "ftp://a.example", "https://", "https://u@a.example"]
)
def test_origins_with_a_path_or_no_host_are_refused(origin: str) -> None:
    with pytest.raises(ValueError, match="allowed origin"):
        normalise_origin(origin)


@pytest.fixture
def s3() -> object:
    # Presigning is computed locally by botocore: no network, no moto needed.
    return boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(signature_version="s3v4"),
    )


def _expires(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0])


def test_presigned_urls_last_15_minutes_by_default_and_are_configurable(s3: object) -> None:
    # GIVEN a store with the default expiry and one configured to 10 minutes
    # WHEN URLs are presigned / THEN they carry 900 s, 600 s, and a per-call 60 s
    assert _expires(BlobStore(s3).presign_get("crops", "a.jpg")) == 900
    assert _expires(BlobStore(s3, presign_expiry_s=600).presign_get("crops", "a.jpg")) == 600
    assert _expires(BlobStore(s3).presign_get("crops", "a.jpg", expires_s=60)) == 60
    assert _expires(BlobStore(s3).presign_get("crops", "a.jpg", expires_s=MAX_PRESIGN_EXPIRY_S)) == 3600


@pytest.mark.parametrize("expires_s", [0, -5, MAX_PRESIGN_EXPIRY_S + 1, 7 * 24 * 3600])
def test_presigned_url_expiry_is_bounded_to_one_hour(s3: object, expires_s: int) -> None:
    # WHEN asked for an expiry outside 1 s .. 1 h, per call or per store / THEN refused, naming the bound
    with pytest.raises(ValueError, match="between 1 and 3600 seconds"):
        BlobStore(s3).presign_get("crops", "a.jpg", expires_s=expires_s)
    with pytest.raises(ValueError, match="between 1 and 3600 seconds"):
        BlobStore(s3, presign_expiry_s=expires_s)


def test_presigned_url_expiry_must_be_whole_seconds(s3: object) -> None:
    with pytest.raises(ValueError, match="whole seconds"):
        BlobStore(s3).presign_get("crops", "a.jpg", expires_s=1.5)  # type: ignore[arg-type]
