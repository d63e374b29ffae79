"""Builds the CDK app: typed config → one SkillforgeStack per stage → cdk-nag checks."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from functions.core.base.versions import code_version
from infra.config import CONTEXT_KEY, REPO_ROOT, STAGE_CONTEXT_KEY, cdk_json_context, parse_deploy_config
from infra.stacks.skillforge_stack import SkillforgeStack, stack_name


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> App:
    """The app with cdk.json's context (or `context`), CLI context (`-c`) taking precedence.

    Stacks are environment-agnostic unless a stage names its account and region, so synthesis
    needs no AWS account. `-c stage=NAME` builds only that stage. Run without the CDK CLI
    (`python app.py`), the cloud assembly goes to cdk.out/ as with `cdk synth`.
    """
    if outdir is None and "CDK_OUTDIR" not in os.environ:
        outdir = str(REPO_ROOT / "cdk.out")
    app = App(context=dict(context if context is not None else cdk_json_context()), outdir=outdir)
    config = parse_deploy_config(app.node.try_get_context(CONTEXT_KEY))
    version = code_version()
    for stage, stage_config in config.selected(app.node.try_get_context(STAGE_CONTEXT_KEY)).items():
        env = (
            Environment(account=stage_config.account, region=stage_config.region)
            if stage_config.account or stage_config.region
            else None
        )
        SkillforgeStack(
            app,
            stack_name(stage),
            stage=stage,
            config=stage_config,
            repo_root=REPO_ROOT,
            models_dir=config.models_dir(),
            code_version=version,
            env=env,
            description=f"skillforge {stage}: photos → car detection → crops + catalog (code {version})",
        )
    apply_checks(app)
    return app


def apply_checks(app: App) -> None:
    """cdk-nag AwsSolutions as a validation plugin: any unacknowledged finding fails synthesis."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
