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
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
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


def nag_resource(scope: IConstruct, value: str) -> str:
    """How cdk-nag writes a (token) resource in a finding id: `<LogicalId.Attr>`, `<AWS::Region>`..."""

    def render(part: Any) -> str:
        if isinstance(part, str):
            return part
        if isinstance(part, dict) and "Fn::GetAtt" in part:
            logical_id, attribute = part["Fn::GetAtt"]
            return f"<{logical_id}.{attribute}>"
        if isinstance(part, dict) and "Ref" in part:
            return f"<{part['Ref']}>"
        if isinstance(part, dict) and "Fn::Join" in part:
            separator, parts = part["Fn::Join"]
            return str(separator).join(render(p) for p in parts)
        raise ValueError(f"cannot render {part!r} as a cdk-nag finding")

    return render(Stack.of(scope).resolve(value))


BASIC_EXECUTION_ROLE = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
BASIC_EXECUTION_REASON = (
    "Lambda's AWS-managed basic execution policy: CloudWatch Logs only, for the function's own logs."
)
XRAY_REASON = "X-Ray active tracing: xray:PutTraceSegments/PutTelemetryRecords accept no resource but *."


def acknowledge_function_basics(scope: IConstruct, functions: Sequence[IConstruct] = ()) -> None:
    """The findings every thin function of this project raises (logs policy, X-Ray; Python 3.11)."""
    suppress(scope, "AwsSolutions-IAM4", BASIC_EXECUTION_REASON, findings=[BASIC_EXECUTION_ROLE])
    suppress(scope, "AwsSolutions-IAM5", XRAY_REASON, findings=["Resource::*"])
    for function in functions:
        suppress(
            function,
            "AwsSolutions-L1",
            "Pinned to Python 3.11, the project's runtime (pyproject requires-python <3.12); "
            "raised together with the rest of the code base.",
        )


def acknowledge_resources(scope: IConstruct, reason: str, resources: Sequence[str]) -> None:
    """Wildcard resources (object keys under a prefix, an index, ...) acknowledged with `reason`."""
    findings = [f"Resource::{nag_resource(scope, r)}" for r in resources]
    suppress(scope, "AwsSolutions-IAM5", reason, findings=findings)
