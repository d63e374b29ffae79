"""`skillforge label-noise --skill S`: label-noise candidates among a skill version's training data
(cleanlab on out-of-fold predictions from the version's own embeddings, training/label_noise.py), one
JSON line per candidate (or a table), most suspicious first; the candidates go to expert review as
"suspected label noise" (`--dry-run`: listed only). Summary on stderr. `--state out/state`: local
mode, on what `skillforge up` keeps there (catalog and crops)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    from scripts.commands.options import add_state_argument

    parser = subparsers.add_parser(
        "label-noise", help="list suspected label noise in a skill's training data and send it to review"
    )
    parser.add_argument("--skill", required=True, help="the skill (e.g. car-make)")
    parser.add_argument("--version", type=int, default=None, help="a registered version (default: deployed)")
    parser.add_argument(
        "--features",
        choices=("embedding", "probabilities"),
        default="embedding",
        help="what represents a crop: the version's embedding (default) or its class probabilities",
    )
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    parser.add_argument(
        "--limit", type=int, default=None, help="send at most N (the most suspicious) to review"
    )
    parser.add_argument("--dry-run", action="store_true", help="list the candidates, change nothing")
    parser.add_argument("--format", choices=("jsonl", "table"), default="jsonl")
    add_state_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from functions.core.base.aws import client
    from functions.core.base.storage import BlobStore
    from functions.core.labelling.label_noise import send_to_review
    from functions.core.labelling.wiring import build_catalog
    from functions.core.skills.settings import RegistrySettings
    from functions.core.skills.wiring import build_registry_skills
    from scripts.commands.output import emit_json, emit_table, info
    from scripts.local.stack import stack_session
    from training.label_noise import NoiseCheckDeps, check_skill

    if args.folds < 2:
        raise ValueError(f"--folds must be at least 2, got {args.folds}")
    if args.limit is not None and args.limit < 0:
        raise ValueError(f"--limit must be 0 or more, got {args.limit}")
    with stack_session(args.state) if args.state else nullcontext():
        settings = RegistrySettings()  # type: ignore[call-arg]
        store = BlobStore(client("s3", settings))
        skills = build_registry_skills(settings)
        deps = NoiseCheckDeps(build_catalog(), store, skills, settings.artifacts_bucket)
        check = check_skill(deps, args.skill, args.version, args.features, args.folds)
        chosen = check.candidates[: args.limit] if args.limit is not None else check.candidates
        sent = set() if args.dry_run else set(send_to_review(deps.catalog, chosen, check.checked_by))
    rows = [{**c.model_dump(), "sent_to_review": c.crop_id in sent} for c in check.candidates]
    if args.format == "table":
        header = ["crop_id", "given", "suggested", "self_confidence", "sent_to_review"]
        emit_table(header, [[row[h] for h in header] for row in rows])
    else:
        for row in rows:
            emit_json(row)
    info(
        f"{check.skill} v{check.skill_version} (data set {check.dataset_version}): {check.examples} crops "
        f"checked {check.per_class}, {len(check.candidates)} label-noise candidates, {len(sent)} sent to "
        f"review{' (dry run)' if args.dry_run else ''}; skipped {check.skipped or 'none'}"
    )
    return 0
