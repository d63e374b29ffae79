"""checkov acknowledgements: every skipped check carries a written reason, in the template itself.

checkov reads `Metadata.checkov.skip` of a CloudFormation resource: a list of `{"id", "comment"}`.
`skip_check` adds one to a construct's CloudFormation resource; `CheckovAcknowledgements` (an aspect
on the stack) adds the findings every resource of a type raises for the same reason. `make validate`
fails on any failed check, and on any skip without a comment.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import CfnResource, IAspect
from constructs import IConstruct

CHECKOV_METADATA = "checkov"
STEP_FUNCTIONS_TASK = (
    "Invoked synchronously by Step Functions: a failure is caught by the state machine and notified."
)

# resource type → (check id, reason) for checks every resource of that type raises for one reason.
BY_TYPE: dict[str, tuple[tuple[str, str], ...]] = {
    "AWS::Lambda::Function": (
        (
            "CKV_AWS_117",
            "No VPC: the functions use only AWS APIs (S3, DynamoDB, SageMaker, SSM) through IAM; a VPC "
            "would add NAT or endpoint cost and isolate nothing.",
        ),
        (
            "CKV_AWS_115",
            "Concurrency is bounded where it fans out: detect by its event source's maximum concurrency "
            "(and detectReservedConcurrency when set); the others run per schedule, job or execution.",
        ),
        (
            "CKV_AWS_173",
            "The environment holds resource names and knobs only, no secret (the Slack URL is read from "
            "Secrets Manager); Lambda encrypts it at rest with its service key.",
        ),
    ),
    "AWS::Logs::LogGroup": (
        (
            "CKV_AWS_158",
            "Logs hold ids, counts and decisions, no personal data or secret; CloudWatch Logs encrypts "
            "them at rest with its service key.",
        ),
    ),
    "AWS::SQS::Queue": (
        (
            "CKV_AWS_27",
            "Encrypted at rest with SSE-SQS (SqsManagedSseEnabled), which this check does not recognise; "
            "a KMS key would need S3 and EventBridge in its key policy for nothing more.",
        ),
    ),
}


ONLY_WITH_ENVIRONMENT = frozenset({"CKV_AWS_173"})


def _resource(construct: IConstruct) -> CfnResource:
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise ValueError(f"{construct.node.path} has no CloudFormation resource to acknowledge on")
    return resource


def skip_check(construct: IConstruct, check_id: str, reason: str) -> None:
    """Skip checkov's `check_id` on the construct's resource, with `reason` (required)."""
    if not reason.strip():
        raise ValueError(f"skipping {check_id} needs a written reason")
    if not check_id.startswith("CKV"):
        raise ValueError(f"{check_id!r} is not a checkov check id like 'CKV_AWS_117'")
    resource = _resource(construct)
    metadata: dict[str, Any] = resource.get_metadata(CHECKOV_METADATA) or {"skip": []}
    skips = [s for s in metadata["skip"] if s["id"] != check_id]
    resource.add_metadata(CHECKOV_METADATA, {"skip": [*skips, {"id": check_id, "comment": reason}]})


@jsii.implements(IAspect)
class CheckovAcknowledgements:
    """Adds the type-wide acknowledgements of BY_TYPE to every matching resource."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, CfnResource):
            for check_id, reason in BY_TYPE.get(node.cfn_resource_type, ()):
                if check_id in ONLY_WITH_ENVIRONMENT and getattr(node, "environment", None) is None:
                    continue  # nothing to encrypt: the check passes, no acknowledgement needed
                skip_check(node, check_id, reason)
