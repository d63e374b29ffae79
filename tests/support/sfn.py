"""Running a CDK-synthesized state machine in moto's Step Functions interpreter (execution mode): its
DefinitionString made plain, and Lambda invokes dispatched to Python handlers in-process (moto would
start a Docker container per invoke)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

from scripts.local.delivery import FakeLambdaContext

REGION, ACCOUNT = "us-east-1", "123456789012"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
}


def resolve(value: Any, arns: dict[str, str], refs: dict[str, str] | None = None) -> Any:
    """CloudFormation intrinsics of a DefinitionString → plain text (Join, GetAtt .Arn, Ref)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(resolve(part, arns, refs) for part in parts)
    if "Fn::GetAtt" in value:
        return arns[value["Fn::GetAtt"][0]]
    if "Ref" in value:
        return PSEUDO.get(value["Ref"]) or (refs or {})[value["Ref"]]
    raise AssertionError(f"unexpected intrinsic {value}")


class InProcessLambda:
    """Dispatches moto Lambda invokes (by function name) to Python handlers."""

    def __init__(self) -> None:
        self.handlers: dict[str, Callable[[dict[str, Any], Any], Any]] = {}
        self.calls: list[str] = []

    def invoke(
        self,
        function_name: str,
        qualifier: Any,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> bytes:
        name = function_name.rsplit(":function:", maxsplit=1)[-1].split(":", maxsplit=1)[0]
        self.calls.append(name)
        event = json.loads(body) if body else {}
        try:
            result = self.handlers[name](event, FakeLambdaContext(function_name=name))
        except Exception as exc:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()
        return json.dumps(result).encode()


def placeholder_zip() -> bytes:
    """Code for moto's create_function (never run: invokes go to InProcessLambda)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()
