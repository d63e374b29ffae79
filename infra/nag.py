"""cdk-nag (v3) helpers: every acknowledged finding carries a written reason.

cdk-nag 3 runs as a CDK policy-validation plugin: `Validations.of(app).add_plugins(AwsSolutionsChecks(app))`
fails synthesis on any unacknowledged finding, and acknowledgments are CDK's own
`Validations.of(construct).acknowledge(...)` (they apply to the construct and its children).
An acknowledgment id is `<Pack>::<RuleId>[<Finding>]`, e.g. `AwsSolutions::AwsSolutions-IAM5[Resource::*]`;
the validation report (cdk.out/validation-report.json) then lists it under suppressedViolations
with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def suppress(construct: IConstruct, rule: str, reason: str, findings: Sequence[str] = ()) -> None:
    """Acknowledge `rule` on `construct` with `reason`.

    `findings` names the individual findings of multi-finding rules (IAM4/IAM5), e.g.
    `Resource::*` acknowledges `AwsSolutions-IAM5[Resource::*]` and nothing broader.
    """
    if not reason.strip():
        raise ValueError(f"suppressing {rule} needs a written reason")
    pack, _, _ = rule.partition("-")
    if not pack or rule == pack:
        raise ValueError(f"{rule!r} is not a cdk-nag rule id like 'AwsSolutions-IAM5'")
    rule_ids = [f"{rule}[{finding}]" for finding in findings] if findings else [rule]
    ids = [f"{pack}::{rule_id}" for rule_id in rule_ids]
    Validations.of(construct).acknowledge(*(Acknowledgment(id=rule_id, reason=reason) for rule_id in ids))
