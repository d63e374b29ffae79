"""The review API on powertools' REST event handler: routes, validated parameters, an OpenAPI description.

The same `ReviewApi` serves the Lambda behind API Gateway (Cognito authorizer; the reviewer is
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
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam

from functions.core.base.catalog import DynamoCatalog
from functions.core.base.storage import BlobStore, ObjectMissingError
from functions.core.detection.crops import DEFAULT_CROP_PADDING
from functions.core.labelling.feedback import (
    CorrectionError,
    CorrectionRequest,
    record_correction,
    registry_classes,
)
from functions.core.labelling.review import DecisionRequest, ReviewError, ReviewStore

logger = Logger(child=True)

STATIC_DIR = Path(__file__).resolve().parents[2] / "review_api" / "static"
STATIC_FILES = {
    "/": "index.html",
    "/index.html": "index.html",
    "/session.js": "session.js",
    "/review.js": "review.js",
    "/review.css": "review.css",
    "/dashboard.html": "dashboard.html",
    "/dashboard.js": "dashboard.js",
    "/dashboard.css": "dashboard.css",
}
STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALLOWED_METHODS = "GET, POST, OPTIONS"
DEFAULT_TOKEN_TTL = timedelta(hours=8)
MAX_TOKEN_TTL = timedelta(days=7)
CROP_ID_PATTERN = r"^[A-Za-z0-9_-]{1,80}$"
CropId = Annotated[str, PathParam(pattern=CROP_ID_PATTERN)]
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
    """The review page's API on powertools' REST event handler (routing, request validation, OpenAPI).

    `resolve(event, context)` takes an API Gateway proxy event (the Lambda); `handle(request)` wraps the
    same path for the local server and tests. Before any route runs: a CORS preflight is answered
    (never with Access-Control-Allow-*), a cross-site write is refused, and /api routes need a
    reviewer; then powertools validates query, path and body parameters (a bad one → 400 naming it).
    """

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
        self.app = APIGatewayRestResolver(enable_validation=True)
        # powertools keeps the current event on the router class: one request at a time per process
        # (Lambda is; the local threading server is serialised here).
        self._lock = threading.Lock()
        self._routes(self.app)

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

    def openapi_json(self) -> str:
        """The OpenAPI description of every /api route (also served, to a reviewer, at /api/openapi.json)."""
        return self.app.get_openapi_json_schema(
            title="skillforge review API",
            version="1",
            description="Expert review of proposed crop labels. /api routes need a reviewer "
            "(Cognito in the cloud, the printed token locally).",
        )

    def handle(self, request: ApiRequest) -> ApiResponse:
        return response_from_apigw(self.resolve(event_from_request(request), None))

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        request = request_from_apigw(event)
        path = request.path.rstrip("/") or "/"
        try:
            if request.method == "OPTIONS":
                refused = self._preflight(request)
            elif request.method in STATE_CHANGING_METHODS and self._is_cross_site(request):
                raise AuthError(403, "cross-origin request refused")
            else:
                refused = None
            reviewer = self.auth.reviewer(request) if path.startswith("/api/") else None
        except AuthError as exc:
            logger.warning(
                "review API refused", extra={"path": path, "status": exc.status, "reason": str(exc)}
            )
            return apigw_response(_error(exc.status, str(exc)))
        if refused is not None:
            return apigw_response(refused)
        with self._lock:
            self.app.append_context(reviewer=reviewer)  # type: ignore[no-untyped-call]
            response = self.app.resolve({**event, "path": path}, context)
        headers = response.setdefault("multiValueHeaders", {})
        for name, value in {"Cache-Control": "no-store", **_SECURITY_HEADERS}.items():
            if name not in headers and name not in (response.get("headers") or {}):
                headers[name] = [value]
        return response

    def _routes(self, app: APIGatewayRestResolver) -> None:
        def reviewer() -> str:
            return str(app.context["reviewer"])

        @app.get("/api/me")
        def me() -> dict[str, str]:
            return {"reviewer": reviewer()}

        @app.get("/api/variants")
        def variants() -> dict[str, Any]:
            return {
                "variants": self.review.variants(),
                "classes": self.review.known_classes(),
                "progress": self.review.progress(),
            }

        @app.get("/api/progress")
        def progress() -> dict[str, int]:
            return self.review.progress()

        @app.get("/api/queue")
        def queue(
            variant: Annotated[str, Query(min_length=1, max_length=200)],
            limit: Annotated[int, Query(ge=1, le=96)] = 48,
        ) -> dict[str, Any]:
            items = self.review.queue(variant, limit)
            return {"variant": variant, "items": [i.model_dump() for i in items]}

        @app.get("/api/crops/<crop_id>/image")
        # Binary responses carry no return annotation: powertools then sends the bytes unvalidated.
        def crop_image(crop_id: CropId):  # type: ignore[no-untyped-def]
            return self._crop_image(crop_id)

        @app.post("/api/decisions")
        def decide(decision: Annotated[DecisionRequest, Body()]) -> Response[str]:
            made = self.review.decide(reviewer(), decision)
            logger.info("review decision", extra=made.model_dump(mode="json"))
            body = {"decision": made.model_dump(mode="json"), "progress": self.review.progress()}
            return Response(201, content_types.APPLICATION_JSON, json.dumps(body, default=str))

        @app.post("/api/undo")
        def undo() -> dict[str, Any]:
            undone = self.review.undo_last(reviewer())
            logger.info("review decision undone", extra={"decision_id": undone.decision_id})
            return {"undone": undone.model_dump(mode="json"), "progress": self.review.progress()}

        @app.post("/api/feedback")
        def feedback(correction: Annotated[CorrectionRequest, Body()]) -> Response[str]:
            """A user's correction of a served answer: recorded against the answering version, to review."""
            recorded = record_correction(self.catalog, correction, reviewer(), registry_classes(self.catalog))
            logger.info("correction recorded", extra=recorded.model_dump(mode="json"))
            body = {"correction": recorded.model_dump(mode="json")}
            return Response(201, content_types.APPLICATION_JSON, json.dumps(body, default=str))

        @app.get("/config.json", include_in_schema=False)
        def config() -> dict[str, Any]:
            return {"login_url": self.login_url}

        @app.get("/api/openapi.json", include_in_schema=False)
        def openapi() -> Response[str]:
            return Response(200, content_types.APPLICATION_JSON, self.openapi_json())

        for route, name in STATIC_FILES.items():
            app.get(route, include_in_schema=False)(self._static_route(name))

        @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
        def bad_request(exc: RequestValidationError) -> Response[str]:
            return _powertools_error(400, validation_message(exc.errors()))

        @app.exception_handler(CorrectionError)  # type: ignore[untyped-decorator]
        def correction_error(exc: CorrectionError) -> Response[str]:
            return _powertools_error(400, str(exc))

        @app.exception_handler(ReviewError)  # type: ignore[untyped-decorator]
        def review_error(exc: ReviewError) -> Response[str]:
            return _powertools_error(exc.status, str(exc))

        @app.not_found
        def not_found(exc: Exception) -> Response[str]:
            event = app.current_event
            return _powertools_error(404, f"no route {event.http_method} {event.path}")

    def _static_route(self, name: str) -> Callable[[], Any]:
        def serve():  # type: ignore[no-untyped-def]  # bytes: no annotation, as for crop images
            static = self._static(name)
            return Response(static.status, static.headers["Content-Type"], static.body, static.headers)

        return serve

    def _preflight(self, request: ApiRequest) -> ApiResponse:
        """Same-origin pages never need CORS: no Access-Control-Allow-* header, ever."""
        if self._is_cross_site(request):
            raise AuthError(403, "cross-origin request refused")
        return ApiResponse(204, {"Allow": ALLOWED_METHODS, **_SECURITY_HEADERS}, b"")

    def _crop_image(self, crop_id: str) -> Response[bytes]:
        crop = self.catalog.get_crop(crop_id)
        if crop is None:
            raise CropImageMissingError(f"crop {crop_id} does not exist")
        try:
            data = self.store.get(crop.crop_bucket, crop.crop_key).data
        except ObjectMissingError as exc:
            raise CropImageMissingError(
                f"the image of crop {crop_id} is missing from the crops bucket"
            ) from exc
        return Response(200, "image/jpeg", data, {"Cache-Control": "private, max-age=300"})

    def _static(self, name: str) -> ApiResponse:
        data = (self.static_dir / name).read_bytes()
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        return ApiResponse(
            200, {"Content-Type": content_type, "Cache-Control": "no-cache", **_SECURITY_HEADERS}, data
        )


class CropImageMissingError(ReviewError):
    status = 404


def validation_message(errors: Sequence[Any]) -> str:
    """`query limit: Input should be a valid integer; body corrections.x: ...` (no input values echoed)."""
    parts: list[str] = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        where = f"{location[0]} {'.'.join(location[1:])}".strip() if location else "request"
        message = str(error.get("msg", "invalid"))
        parts.append(f"{where}: {message.removeprefix('Value error, ')}")
    return "bad request: " + "; ".join(parts)


def _powertools_error(status: int, message: str) -> Response[str]:
    return Response(status, content_types.APPLICATION_JSON, json.dumps({"error": message}))


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


def event_from_request(request: ApiRequest) -> dict[str, Any]:
    """An API Gateway REST proxy event for a request that came in some other way (local server, tests)."""
    body = request.body.decode("utf-8", errors="replace") if request.body else None
    return {
        "httpMethod": request.method,
        "path": request.path,
        "resource": request.path,
        "headers": dict(request.headers),
        "multiValueHeaders": {name: [value] for name, value in request.headers.items()},
        "queryStringParameters": dict(request.query) or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in request.query.items()} or None,
        "body": body,
        "isBase64Encoded": False,
        "requestContext": {"authorizer": {"claims": request.claims}} if request.claims else {},
    }


def response_from_apigw(response: dict[str, Any]) -> ApiResponse:
    headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(str(name), ", ".join(str(v) for v in values))
    body = response.get("body") or ""
    raw = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode("utf-8")
    return ApiResponse(int(response["statusCode"]), headers, raw)


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
