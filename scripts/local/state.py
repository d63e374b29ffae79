"""Local mode's memory between runs: the emulator is in-memory, so the skill registry, gate log,
deployment parameters and model/harness artifacts are saved to a folder and restored next run.

Layout of the state folder:
  items.jsonl         catalog-table items of the registry and gate log (skillseq#, skill#, gate#)
  parameters.json     SSM parameters under /skillforge/<stage>/
  artifacts/<key>     objects of the artifacts bucket under skills/, harness/ and lineage/ (what each
                      version was trained on: the drift reference, the label-noise check), dataset
                      manifests
  skill_versions.json the local stage's mapping file (what `skillforge promote` rewrites)
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from boto3.dynamodb.conditions import Attr

from functions.core.skills.deployment import MappingFile

ITEM_PREFIXES = ("skillseq#", "skill#", "gate#")
ARTIFACT_PREFIXES = ("skills/", "harness/", "datasets/", "lineage/")
DEFAULT_STATE_DIR = Path("out") / "state"


def mapping_file(state_dir: Path) -> MappingFile:
    return MappingFile(state_dir / "skill_versions.json")


def save_state(emulator: Any, state_dir: Path) -> dict[str, int]:
    """Write the registry, gate log, parameters and artifacts of the running emulator to `state_dir`."""
    names = emulator.names
    staging = state_dir.with_name(state_dir.name + ".saving")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    table = emulator.resource("dynamodb").Table(names.catalog_table)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"FilterExpression": Attr("pk").begins_with(ITEM_PREFIXES[0])}
    for prefix in ITEM_PREFIXES[1:]:
        kwargs["FilterExpression"] |= Attr("pk").begins_with(prefix)
    while True:
        page = table.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    with (staging / "items.jsonl").open("w", encoding="utf-8") as out:
        for item in sorted(items, key=lambda i: str(i["pk"])):
            out.write(json.dumps(item, default=_decimal) + "\n")
    ssm = emulator.client("ssm")
    parameters: dict[str, str] = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(
        Path=f"/skillforge/{names.stage}/", Recursive=True
    ):
        parameters.update({p["Name"]: p["Value"] for p in page.get("Parameters", [])})
    (staging / "parameters.json").write_text(
        json.dumps(parameters, indent=2, sort_keys=True), encoding="utf-8"
    )
    s3 = emulator.client("s3")
    objects = 0
    for prefix in ARTIFACT_PREFIXES:
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=names.artifacts_bucket, Prefix=prefix
        ):
            for obj in page.get("Contents", []):
                if obj["Key"].startswith("datasets/") and not obj["Key"].endswith("/manifest.json"):
                    continue  # of a dataset, only its manifest (counts for reports) is kept
                target = staging / "artifacts" / obj["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(
                    s3.get_object(Bucket=names.artifacts_bucket, Key=obj["Key"])["Body"].read()
                )
                objects += 1
    old_mapping = state_dir / "skill_versions.json"
    if old_mapping.is_file():
        shutil.copy2(old_mapping, staging / "skill_versions.json")
    shutil.rmtree(state_dir, ignore_errors=True)
    staging.rename(state_dir)
    return {"items": len(items), "parameters": len(parameters), "artifacts": objects}


def restore_state(emulator: Any, state_dir: Path) -> dict[str, int]:
    """Load a saved state into a fresh emulator (nothing to do when there is none yet)."""
    counts = {"items": 0, "parameters": 0, "artifacts": 0}
    if not state_dir.is_dir():
        return counts
    names = emulator.names
    items_file = state_dir / "items.jsonl"
    if items_file.is_file():
        table = emulator.resource("dynamodb").Table(names.catalog_table)
        with table.batch_writer() as batch:
            for line in items_file.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    batch.put_item(Item=json.loads(line, parse_float=Decimal))
                    counts["items"] += 1
    parameters_file = state_dir / "parameters.json"
    if parameters_file.is_file():
        ssm = emulator.client("ssm")
        for name, value in json.loads(parameters_file.read_text(encoding="utf-8")).items():
            ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
            counts["parameters"] += 1
    artifacts = state_dir / "artifacts"
    if artifacts.is_dir():
        s3 = emulator.client("s3")
        for path in sorted(p for p in artifacts.rglob("*") if p.is_file()):
            s3.put_object(
                Bucket=names.artifacts_bucket,
                Key=path.relative_to(artifacts).as_posix(),
                Body=path.read_bytes(),
            )
            counts["artifacts"] += 1
    return counts


@contextmanager
def aws_or_local(state_dir: Path | None) -> Iterator[Any]:
    """CLI commands: the AWS named by the environment, or (with --state) local mode's saved state."""
    if state_dir is None:
        yield None
        return
    with local_session(state_dir) as emulator:
        yield emulator


@contextmanager
def local_session(state_dir: Path) -> Iterator[Any]:
    """For CLI commands in local mode: an emulator restored from `state_dir`, saved back on success."""
    from scripts.local.emulator import running_emulator

    with running_emulator() as emulator:
        restore_state(emulator, state_dir)
        yield emulator
        save_state(emulator, state_dir)


def _decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")
