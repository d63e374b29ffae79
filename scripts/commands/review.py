"""`skillforge review`: the expert review page on 127.0.0.1, auto-approval of hints, or the queue status."""

from __future__ import annotations

import argparse
import json
import os
from datetime import timedelta
from typing import Any

from scripts.commands.output import emit, info


def _hours(text: str) -> timedelta:
    try:
        return timedelta(hours=float(text))
    except (ValueError, OverflowError) as exc:
        raise argparse.ArgumentTypeError(f"not a usable number of hours: {text!r}") from exc


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "review",
        help="expert review of crops in review (page on 127.0.0.1, or --auto-approve)",
        description="Uses the configured catalog (SKILLFORGE_CATALOG_TABLE, SKILLFORGE_CROPS_BUCKET, "
        "SKILLFORGE_ARTIFACTS_BUCKET, optional SKILLFORGE_AWS_ENDPOINT_URL, optional "
        "SKILLFORGE_REVIEW_ALLOWED_ORIGIN: another origin allowed to write besides the page's own). "
        "Without options: prints the queue.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--serve", action="store_true", help="serve the review page on 127.0.0.1")
    mode.add_argument(
        "--auto-approve", action="store_true", help="accept the upload hint of every crop in review"
    )
    parser.add_argument(
        "--port", type=int, default=8765, help="port of the review page (default 8765; 0 = any)"
    )
    parser.add_argument(
        "--token-ttl-hours",
        type=_hours,
        default=timedelta(hours=8),
        help="lifetime of the printed review token in hours (default 8, at most 168), then 401 token expired",
    )
    parser.add_argument(
        "--reviewer", default=os.environ.get("USER", "local-expert"), help="name recorded on decisions"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from functions.core.labelling.review_api import TokenAuthenticator
    from functions.core.labelling.settings import LabellingResources
    from functions.core.labelling.wiring import build_review_api
    from scripts.local.review_server import HOST, make_server, new_token

    resources = LabellingResources()  # type: ignore[call-arg]
    if args.serve:
        token = os.environ.get("SKILLFORGE_REVIEW_TOKEN") or new_token()
        auth = TokenAuthenticator(token, reviewer=args.reviewer, ttl=args.token_ttl_hours)
        api = build_review_api(resources, auth)
        server = make_server(api, args.port)
        emit(f"review page: http://{HOST}:{server.server_address[1]}/")
        emit(f"review token: {token}")
        emit(f"token expires: {auth.expires_at.isoformat(timespec='seconds')}")
        info("Ctrl-C to stop")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
        return 0
    api = build_review_api(resources, TokenAuthenticator(new_token()))
    if args.auto_approve:
        approved = api.review.auto_approve(reviewer=f"auto-approve:{args.reviewer}")
        emit(json.dumps({"approved": approved, "progress": api.review.progress()}))
        return 0
    emit(json.dumps({"variants": api.review.variants(), "progress": api.review.progress()}, indent=2))
    return 0
