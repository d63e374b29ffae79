"""Demo stages around the gate.

`restore` (first stage): loads the registry, deployment and artifacts saved by the previous run, so
skill versions keep counting and a new candidate is compared with the version deployed last time.

`gate` (after training): every registered skill version without a gate decision is the candidate;
it is tested against the deployed version (if any) on the frozen harness + replayed records →
promoted (local stage) or "needs investigation" → `out/report.pdf`, `out/slack.json` (or a POST to
SLACK_WEBHOOK_URL), `summary["gate"]`; then the state is saved for the next run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from boto3.dynamodb.conditions import Attr

from functions.core.detection.detector import Detector
from functions.core.detection.settings import DetectorSettings
from functions.core.gate.evaluation import (
    EvaluateDeps,
    EvaluateRequest,
    class_mapping,
    evaluate_candidate,
    summarize,
    write_local_copy,
)
from functions.core.gate.notify import from_evaluation, local_report_link
from functions.core.gate.regression import Harness, freeze_from_catalog
from functions.core.gate.rule import GateConfig, GateOutcome
from functions.core.gate.settings import GateSettings, NotifySettings
from functions.core.gate.wiring import build_evaluate_deps, build_notifier
from functions.core.skills.deployment import promote
from functions.core.skills.registry import RegisteredSkill
from scripts.local.demo_run import DemoRun
from scripts.local.state import mapping_file, restore_state, save_state

# The demo's skill trains for minutes on a few hundred crops on a shared CPU: a first version must beat
# chance clearly (not reach production quality), its harness is small (a few cases per class), and
# latency is noisy. SKILLFORGE_GATE overrides.
DEMO_GATE = GateConfig(
    first_version_min_accuracy=0.4,
    latency_tolerance=0.5,
    latency_slack_ms=20.0,
    skill_latency_tolerance=0.5,
    skill_latency_slack_ms=10.0,
    min_cases_per_class=2,
)


def state_dir(demo: DemoRun) -> Path:
    return demo.out_dir / "state"


def restore(demo: DemoRun) -> None:
    counts = restore_state(demo.emulator, state_dir(demo))
    demo.summary["state"] = {"restored_from": str(state_dir(demo)), **counts}
    demo.progress(f"state restored from {state_dir(demo)}: {counts}")


def shared_detector() -> Detector:
    """The detect function's detector (already loaded by the detection stage)."""
    from functions.detect import handler as detect_handler

    return detect_handler.deps().detector


def candidates(deps: EvaluateDeps) -> Iterator[RegisteredSkill]:
    """Registered skill versions that have no gate decision yet, oldest first."""
    table = deps.gate_log.table
    seen: set[tuple[str, int]] = set()
    kwargs: dict[str, Any] = {"FilterExpression": Attr("kind").eq("skill")}
    found: list[tuple[str, int]] = []
    while True:
        page = table.scan(**kwargs)
        found += [(str(i["skill"]), int(i["skill_version"])) for i in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    for skill, version in sorted(found):
        if (skill, version) in seen or deps.gate_log.get(skill, version) is not None:
            continue
        seen.add((skill, version))
        entry = deps.registry.get(skill, version)
        if entry is not None:
            yield entry


def ensure_harness(deps: EvaluateDeps, entry: RegisteredSkill) -> Harness | None:
    """The skill's frozen harness; frozen now from the verified test-split crops if it has none."""
    existing = deps.harnesses.load(entry.skill)
    if existing is not None:
        return existing
    images = deps.harnesses.uri(entry.skill).rsplit("/", 1)[0] + "/images"
    cases = freeze_from_catalog(deps.catalog, class_mapping(deps, entry), deps.artifacts, images)
    if not cases:
        return None
    harness = Harness.freeze(entry.skill, cases, description="demo: verified test-split crops")
    deps.harnesses.save(harness)
    return harness


def run(demo: DemoRun, detector: Detector | None = None) -> None:
    settings = GateSettings()  # type: ignore[call-arg]
    if not os.environ.get("SKILLFORGE_GATE"):
        settings.gate = DEMO_GATE
    deps = build_evaluate_deps(settings, DetectorSettings(), detector or shared_detector())
    notifier = build_notifier(NotifySettings(), slack_file=demo.out_dir / "slack.json")
    results: list[dict[str, Any]] = []
    for entry in candidates(deps):
        results.append(_gate_one(demo, deps, notifier, entry))
    saved = save_state(demo.emulator, state_dir(demo))
    if not results:
        demo.summary["gate"] = {
            "outcome": "no candidate",
            "detail": "no registered skill version awaits a gate decision",
        }
        demo.progress("gate: no candidate skill version to gate")
    else:
        demo.summary["gate"] = {**results[-1], "all": results} if len(results) > 1 else results[0]
    demo.summary["state"] = {**demo.summary.get("state", {}), "saved": saved}
    _print(demo)


def _gate_one(demo: DemoRun, deps: EvaluateDeps, notifier: Any, entry: RegisteredSkill) -> dict[str, Any]:
    harness = ensure_harness(deps, entry)
    current = deps.deployments.current(entry.skill)
    demo.progress(
        f"gate: {entry.skill} v{entry.skill_version} vs "
        + (f"v{current.version}" if current else "nothing deployed (first version)")
        + (
            f" on harness {harness.harness_version} ({len(harness.cases)} cases)"
            if harness
            else " (no harness)"
        )
    )
    try:
        record = evaluate_candidate(
            EvaluateRequest(skill=entry.skill, skill_version=entry.skill_version), deps
        )
    except ValueError as exc:  # no harness and nothing to replay: say so, do not stop the demo
        demo.progress(f"gate: {entry.skill} v{entry.skill_version} not evaluated: {exc}")
        return {
            "skill": entry.skill,
            "skill_version": entry.skill_version,
            "outcome": "not evaluated",
            "detail": str(exc),
        }
    summary = summarize(record)
    promoted = None
    if summary.outcome is GateOutcome.PROMOTE:
        promote(
            deps.registry,
            deps.deployments,
            entry.skill,
            entry.skill_version,
            actor="demo",
            reason="passed the regression gate",
            mapping=mapping_file(state_dir(demo)),
        )
        promoted = True
    folder = demo.out_dir / "reports" / f"{entry.skill}-v{entry.skill_version}"
    copies = write_local_copy(deps.artifacts, record, folder)
    note = from_evaluation(summary, deps.deployments.stage, promoted)
    if "report.pdf" in copies:
        (demo.out_dir / "report.pdf").write_bytes(Path(copies["report.pdf"]).read_bytes())
        note.report_uri = str(Path(copies["report.pdf"]).resolve())  # the emulator's S3 is gone after the run
        local_report_link(note, Path(copies["report.pdf"]))
    notified = notifier.send(note)
    return {
        "skill": summary.skill,
        "skill_version": summary.skill_version,
        "current_version": summary.current_version,
        "outcome": summary.outcome.value,
        "promoted": bool(promoted),
        "reasons": summary.reasons,
        "accuracy": summary.accuracy,
        "current_accuracy": summary.current_accuracy,
        "latency_p95_ms": summary.latency_p95_ms,
        "current_latency_p95_ms": summary.current_latency_p95_ms,
        "cases": summary.cases,
        "harness_version": summary.harness_version,
        "code_version": summary.code_version,
        "dataset_version": summary.dataset_version,
        "report": str(demo.out_dir / "report.pdf"),
        "report_uri": summary.report_uri,
        "slack": notified["slack"],
    }


def _print(demo: DemoRun) -> None:
    gate = demo.summary["gate"]
    print()
    print("  gate summary")
    print("  -----------------------------")
    for label in (
        "skill",
        "skill_version",
        "current_version",
        "outcome",
        "accuracy",
        "current_accuracy",
        "report",
        "slack",
    ):
        if label in gate:
            print(f"  {label:<16} {gate[label]}")
    print()
