"""External validators on the synthesized app: cfn-lint, checkov and asl-validator.

- cfn-lint on every template: 0 errors (warnings are listed);
- checkov (CloudFormation framework): 0 failed checks, and every skipped check has a written reason
  (infra/checkov.py puts them into the template's Metadata);
- asl-validator (npm) on every state machine definition, with CloudFormation tokens replaced by
  well-formed placeholder ARNs.

`python -m scripts.validate_templates [cdk.out]` synthesizes (bundling skipped) unless given a folder,
prints one line per validator (stdout) and exits 1 when one fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.config import REPO_ROOT

# `make validate` installs checkov (its own pins) into a tool environment and passes its path.
CHECKOV = Path(os.environ.get("SKILLFORGE_CHECKOV", REPO_ROOT / ".work/tools/checkov-3.3.30/bin/checkov"))
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
ASL_VALIDATOR = REPO_ROOT / "node_modules" / ".bin" / "asl-validator"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
}


@dataclass
class Report:
    name: str
    ok: bool
    summary: str
    details: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{self.name:<14} {'OK' if self.ok else 'FAILED':<6} {self.summary}"


def templates(outdir: Path) -> list[Path]:
    found = sorted(outdir.glob("*.template.json"))
    if not found:
        raise FileNotFoundError(f"no *.template.json in {outdir}: synthesize first")
    return found


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, check=False, capture_output=True, text=True)


def cfn_lint(paths: list[Path]) -> Report:
    result = _run([str(CFN_LINT), "--format", "parseable", *map(str, paths)])
    findings = [line for line in result.stdout.splitlines() if line.strip()]
    errors = [f for f in findings if ":E" in f]
    warnings = [f for f in findings if ":W" in f]
    codes = sorted({f.split(":")[-2] for f in warnings if f.count(":") >= 2})
    if result.returncode not in (0, 4, 8, 12) and not findings:  # 2 = errors, 4 = warnings, 8 = infos
        return Report("cfn-lint", False, f"did not run: {result.stderr[-400:]}")
    summary = f"{len(errors)} errors, {len(warnings)} warnings ({', '.join(codes) or 'none'})"
    return Report("cfn-lint", not errors, summary, errors)


def checkov(paths: list[Path]) -> Report:
    if not CHECKOV.is_file():
        return Report("checkov", False, f"not installed at {CHECKOV} (make validate installs it)")
    passed = failed = skipped = 0
    details: list[str] = []
    for path in paths:
        result = _run([str(CHECKOV), "-f", str(path), "--framework", "cloudformation", "-o", "json",
                       "--compact", "--skip-download"])  # fmt: skip
        try:
            output: Any = json.loads(result.stdout)
        except json.JSONDecodeError:
            return Report("checkov", False, f"did not run: {result.stderr[-400:]}")
        for report in output if isinstance(output, list) else [output]:
            if "summary" not in report:  # checkov prints a bare summary when a file has no resources
                continue
            passed += report["summary"]["passed"]
            failed += report["summary"]["failed"]
            skipped += report["summary"]["skipped"]
            details += [f"FAILED {r['check_id']} {r['resource']}" for r in report["results"]["failed_checks"]]
            for check in report["results"]["skipped_checks"]:
                if not (check.get("check_result", {}).get("suppress_comment") or "").strip():
                    details.append(f"SKIPPED WITHOUT REASON {check['check_id']} {check['resource']}")
    ok = failed == 0 and not details
    return Report(
        "checkov", ok, f"{passed} passed, {failed} failed, {skipped} skipped (each with a reason)", details
    )


def resolve(value: Any) -> Any:
    """CloudFormation intrinsics → placeholder text with the shape the ASL validator checks."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [resolve(v) for v in value]
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(str(resolve(p)) for p in parts)
    if "Ref" in value:
        return PSEUDO.get(value["Ref"], f"{value['Ref'].lower()}")
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        if "Function" in logical_id or "Notify" in logical_id:
            return f"arn:aws:lambda:us-east-1:123456789012:function:{logical_id.lower()}"
        return f"arn:aws:iam::123456789012:role/{logical_id.lower()}-{attribute.lower()}"
    if "Fn::Select" in value:
        index, items = value["Fn::Select"]
        return resolve(items)[index]
    if "Fn::Split" in value:
        separator, text = value["Fn::Split"]
        return str(resolve(text)).split(separator)
    raise ValueError(f"cannot resolve {value!r}")


def state_machine_definitions(paths: list[Path]) -> dict[str, dict[str, Any]]:
    definitions: dict[str, dict[str, Any]] = {}
    for path in paths:
        resources = json.loads(path.read_text())["Resources"]
        for logical_id, resource in resources.items():
            if resource["Type"] == "AWS::StepFunctions::StateMachine":
                text = resolve(resource["Properties"]["DefinitionString"])
                definitions[logical_id] = json.loads(text)
    return definitions


def asl_validator(paths: list[Path]) -> Report:
    if not ASL_VALIDATOR.is_file():
        return Report("asl-validator", False, f"not installed at {ASL_VALIDATOR} (npm ci)")
    definitions = state_machine_definitions(paths)
    details: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        for name, definition in definitions.items():
            target = Path(folder) / f"{name}.asl.json"
            target.write_text(json.dumps(definition))
            result = _run([str(ASL_VALIDATOR), "--json-path", str(target)])
            if result.returncode != 0:
                details.append(f"{name}: {(result.stdout + result.stderr).strip()[-800:]}")
    summary = f"{len(definitions) - len(details)} of {len(definitions)} state machines valid"
    return Report("asl-validator", bool(definitions) and not details, summary, details)


def validate(outdir: Path) -> list[Report]:
    paths = templates(outdir)
    return [cfn_lint(paths), checkov(paths), asl_validator(paths)]


def main(argv: list[str]) -> int:
    if argv:
        reports = validate(Path(argv[0]))
    else:
        from scripts.artifacts_check import synthesize

        folder = Path(tempfile.mkdtemp(prefix="skillforge-validate-"))
        try:
            reports = validate(synthesize(folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    for report in reports:
        print(report.line())
        for detail in report.details:
            print(f"    {detail}")
    return 0 if all(report.ok for report in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
