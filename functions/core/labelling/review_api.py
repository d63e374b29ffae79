"""The review API as one small router: (method, path, headers, body) → (status, headers, body).

The same `ReviewApi.handle` serves the Lambda behind API Gateway (Cognito authorizer; the reviewer is
taken from the verified claims) and the local `skillforge review --serve` server (a generated token
compared in constant time, valid for a limited time). Static page files are public (they hold no
data); every /api route needs an authenticated reviewer: no credentials or an expired token → 401,
wrong credentials → 403, nothing written.

Cross-site requests: credentials travel only in the `Authorization` header (never cookies), so a
foreign page cannot ride on ambient credentials. On top of that, a state-changing request (POST, PUT,
PATCH, DELETE) whose `Origin` is not one of the served origins is refused with 403 before anything
is read or written, a CORS preflight from another origin gets no allow headers, and no response
carries `Access-Control-Allow-Origin`.
"""

from __future__ import annotations

import base64
import hmac
import json
import mimetypes
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.storage import BlobStore, ObjectMissingError
from functions.core.detection.crops import DEFAULT_CROP_PADDING
from functions.core.labelling.review import DecisionRequest, ReviewError, ReviewStore

logger = Logger(child=True)

STATIC_DIR = Path(__file__).resolve().parents[2] / "review_api" / "static"
STATIC_FILES = {
    "/": "index.html",
    "/index.html": "index.html",
    "/review.js": "review.js",
    "/review.css": "review.css",
}
STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALLOWED_METHODS = "GET, POST, OPTIONS"
DEFAULT_TOKEN_TTL = timedelta(hours=8)
MAX_TOKEN_TTL = timedelta(days=7)
_CROP_IMAGE = re.compile(r"^/api/crops/([A-Za-z0-9_-]{1,80})/image$")
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
}


@dataclass
class ApiRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    query: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    claims: dict[str, Any] | None = None  # verified by API Gateway's Cognito authorizer


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def is_binary(self) -> bool:
        content_type = self.headers.get("Content-Type", "")
        return not (
            content_type.startswith("text/") or "json" in content_type or "javascript" in content_type
        )

    def json(self) -> Any:
        return json.loads(self.body)


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Authenticator(Protocol):
    def reviewer(self, request: ApiRequest) -> str: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TokenAuthenticator:
    """Local mode: `Authorization: Bearer <token>` with the token printed by `skillforge review --serve`.

    The token expires `ttl` after it was made (default 8 hours): a correct but expired token → 401.
    """

    def __init__(
        self,
        token: str,
        reviewer: str = "local-expert",
        ttl: timedelta = DEFAULT_TOKEN_TTL,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if len(token) < 16:
            raise ValueError("the review token must be at least 16 characters")
        if not timedelta(0) < ttl <= MAX_TOKEN_TTL:
            raise ValueError(
                f"the review token lifetime must be above 0 and at most {MAX_TOKEN_TTL}, got {ttl}"
            )
        self._token = token.encode()
        self.name = reviewer
        self._clock = clock
        self.expires_at = clock() + ttl

    def __repr__(self) -> str:  # never the token itself
        return f"TokenAuthenticator(reviewer={self.name!r}, expires_at={self.expires_at.isoformat()})"

    def reviewer(self, request: ApiRequest) -> str:
        header = request.headers.get("authorization", "")
        if not header:
            raise AuthError(401, "sign in: missing Authorization header")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self._token):
            raise AuthError(403, "invalid token")
        if self._clock() >= self.expires_at:
            raise AuthError(401, "token expired")
        return self.name


class CognitoClaimsAuthenticator:
    """Cloud: API Gateway already verified the Cognito JWT; the reviewer is its email or user name."""

    def reviewer(self, request: ApiRequest) -> str:
        claims = request.claims or {}
        name = claims.get("email") or claims.get("cognito:username")
        if not name:
            raise AuthError(401, "no verified Cognito identity on the request")
        return str(name)


def _json(status: int, data: Any) -> ApiResponse:
    return ApiResponse(
        status,
        {"Content-Type": "application/json", "Cache-Control": "no-store", **_SECURITY_HEADERS},
        json.dumps(data, default=str).encode("utf-8"),
    )


def _error(status: int, message: str) -> ApiResponse:
    return _json(status, {"error": message})


def normalise_origin(origin: str) -> str:
    """`scheme://host[:port]` in lower case; anything else (a path, a query, no host) is refused."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"}:
        raise ValueError(f"an allowed origin must look like https://host[:port], got {origin!r}")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"an allowed origin must look like https://host[:port], got {origin!r}")
    return f"{parts.scheme}://{parts.netloc}".lower()


class ReviewApi:
    def __init__(
        self,
        catalog: DynamoCatalog,
        store: BlobStore,
        auth: Authenticator,
        crop_padding: float = DEFAULT_CROP_PADDING,
        login_url: str | None = None,
        static_dir: Path = STATIC_DIR,
        allowed_origins: Iterable[str] = (),
    ) -> None:
        self.review = ReviewStore(catalog, crop_padding)
        self.catalog = catalog
        self.store = store
        self.auth = auth
        self.login_url = login_url
        self.static_dir = static_dir
        self.allowed_origins = {normalise_origin(origin) for origin in allowed_origins}

    def allow_origin(self, origin: str) -> None:
        """The origin the page is served from (the local server adds its own once it has a port)."""
        self.allowed_origins.add(normalise_origin(origin))

    def _is_cross_site(self, request: ApiRequest) -> bool:
        origin = request.headers.get("origin")
        if origin is None:
            return False  # not sent by a browser for this request (curl, scripts): the token decides
        try:
            return normalise_origin(origin) not in self.allowed_origins
        except ValueError:
            return True  # "null" (sandboxed frames, file://) and anything malformed

    def handle(self, request: ApiRequest) -> ApiResponse:
        path = request.path.rstrip("/") or "/"
        try:
            if request.method == "OPTIONS":
                return self._preflight(request)
            if request.method in STATE_CHANGING_METHODS and self._is_cross_site(request):
                raise AuthError(403, "cross-origin request refused")
            if request.method == "GET" and path in STATIC_FILES:
                return self._static(STATIC_FILES[path])
            if request.method == "GET" and path == "/config.json":
                return _json(200, {"login_url": self.login_url})
            if not path.startswith("/api/"):
                return _error(404, f"no route {request.method} {path}")
            reviewer = self.auth.reviewer(request)
            return self._api(request, path, reviewer)
        except AuthError as exc:
            logger.warning(
                "review API refused", extra={"path": path, "status": exc.status, "reason": str(exc)}
            )
            return _error(exc.status, str(exc))
        except ReviewError as exc:
            return _error(exc.status, str(exc))

    def _api(self, request: ApiRequest, path: str, reviewer: str) -> ApiResponse:
        method = request.method
        if method == "GET" and path == "/api/me":
            return _json(200, {"reviewer": reviewer})
        if method == "GET" and path == "/api/variants":
            return _json(
                200,
                {
                    "variants": self.review.variants(),
                    "classes": self.review.known_classes(),
                    "progress": self.review.progress(),
                },
            )
        if method == "GET" and path == "/api/progress":
            return _json(200, self.review.progress())
        if method == "GET" and path == "/api/queue":
            variant = request.query.get("variant")
            if not variant:
                return _error(400, "query parameter 'variant' is required")
            limit = min(96, max(1, int(request.query.get("limit", "48") or 48)))
            items = self.review.queue(variant, limit)
            return _json(200, {"variant": variant, "items": [i.model_dump() for i in items]})
        match = _CROP_IMAGE.match(path)
        if method == "GET" and match:
            return self._crop_image(match.group(1))
        if method == "POST" and path == "/api/decisions":
            try:
                decision_request = DecisionRequest.model_validate_json(request.body or b"{}")
            except ValidationError as exc:
                return _error(400, "bad decision: " + "; ".join(e["msg"] for e in exc.errors()))
            decision = self.review.decide(reviewer, decision_request)
            logger.info("review decision", extra=decision.model_dump(mode="json"))
            return _json(
                201, {"decision": decision.model_dump(mode="json"), "progress": self.review.progress()}
            )
        if method == "POST" and path == "/api/undo":
            decision = self.review.undo_last(reviewer)
            logger.info("review decision undone", extra={"decision_id": decision.decision_id})
            return _json(
                200, {"undone": decision.model_dump(mode="json"), "progress": self.review.progress()}
            )
        return _error(404, f"no route {method} {path}")

    def _preflight(self, request: ApiRequest) -> ApiResponse:
        """Same-origin pages never need CORS: no Access-Control-Allow-* header, ever."""
        if self._is_cross_site(request):
            raise AuthError(403, "cross-origin request refused")
        return ApiResponse(204, {"Allow": ALLOWED_METHODS, **_SECURITY_HEADERS}, b"")

    def _crop_image(self, crop_id: str) -> ApiResponse:
        crop = self.catalog.get_crop(crop_id)
        if crop is None:
            return _error(404, f"crop {crop_id} does not exist")
        try:
            data = self.store.get(crop.crop_bucket, crop.crop_key).data
        except ObjectMissingError:
            return _error(404, f"the image of crop {crop_id} is missing from the crops bucket")
        return ApiResponse(200, {"Content-Type": "image/jpeg", "Cache-Control": "private, max-age=300"}, data)

    def _static(self, name: str) -> ApiResponse:
        data = (self.static_dir / name).read_bytes()
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        return ApiResponse(
            200, {"Content-Type": content_type, "Cache-Control": "no-cache", **_SECURITY_HEADERS}, data
        )


# --- API Gateway (REST, Lambda proxy) adapters ------------------------------------------------------


def request_from_apigw(event: dict[str, Any]) -> ApiRequest:
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    claims = ((event.get("requestContext") or {}).get("authorizer") or {}).get("claims")
    return ApiRequest(
        method=str(event.get("httpMethod", "GET")).upper(),
        path=str(event.get("path") or "/"),
        headers={str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()},
        query={str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()},
        body=raw,
        claims=claims if isinstance(claims, dict) else None,
    )


def apigw_response(response: ApiResponse) -> dict[str, Any]:
    if response.is_binary:
        return {
            "statusCode": response.status,
            "headers": response.headers,
            "body": base64.b64encode(response.body).decode("ascii"),
            "isBase64Encoded": True,
        }
    return {
        "statusCode": response.status,
        "headers": response.headers,
        "body": response.body.decode("utf-8"),
        "isBase64Encoded": False,
    }


def request_from_http(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> ApiRequest:
    """For the local http.server: split the query string off the path."""
    path, _, query = raw_path.partition("?")
    return ApiRequest(
        method=method.upper(),
        path=path,
        headers={k.lower(): v for k, v in headers.items()},
        query=dict(parse_qsl(query)),
        body=body,
    )
