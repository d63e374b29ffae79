"""Demo stage "loop" (after the gate): data quality, active-learning order, a user correction, drift.

A new day's uploads arrive: photos of classes the demo skill never saw (two per class), and the
same photos darkened. Crops the serving path left unanswered are answered here by the latest
registered demo skill (the same StageAnswer/ServedAnswer records serving writes). Then:
- data_quality: an exact and a resized copy of a test photo are uploaded under new adverts; the
  dataset screen keeps both out of training; flags and near-duplicate pairs are counted; two labels
  of the deployed demo skill's training data are swapped (a sloppy review), the label-noise check
  (`skillforge label-noise`) sends its candidates to review, the report counts them, and the expert
  corrects the swapped ones and confirms the others;
- active_learning: the production hand-off orders the new crops by uncertainty within a budget,
  confident answers agreeing with the hint skip the crowd; the measured study curve is quoted;
- feedback: a user corrects one wrong answer (a bad correction is refused), the expert confirms;
- drift: the held-out batch and the darkened batch against the training photos of the deployed
  demo skill version (its lineage), with the chart `out/drift.png`; `out/catalog.jsonl` (with that
  lineage) lets `skillforge drift --skill demo-car-class --catalog out/catalog.jsonl` print the
  drift of the run's upload day.
"""

from __future__ import annotations

import io
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from PIL import Image, ImageEnhance

from functions.core.base.artifacts import Artifacts
from functions.core.base.catalog import DynamoCatalog
from functions.core.base.records import CropRecord, CropStatus, ServedAnswer, StageAnswer, utc_now
from functions.core.base.storage import BlobStore
from functions.core.dataset.extract import read_lineage, screened_table
from functions.core.dataset.spec import DatasetSpec
from functions.core.dataset.split import Split, SplitPolicy, hashed_split
from functions.core.dataset.wiring import build_extract_deps
from functions.core.labelling.feedback import (
    CorrectionError,
    CorrectionRequest,
    corrections,
    corrections_per_version,
    record_correction,
    registry_classes,
)
from functions.core.labelling.handoff import HandoffDeps, hand_off
from functions.core.labelling.label_noise import send_to_review
from functions.core.labelling.local_jobs import LocalLabelingJobs
from functions.core.labelling.review import DecisionRequest, ReviewStore
from functions.core.monitoring.charts import DRIFT_CHART, drift_chart
from functions.core.monitoring.drift import compare, render_table
from functions.core.monitoring.reference import DeployedLineage
from functions.core.monitoring.settings import DriftSettings
from functions.core.skills.registry import SkillRegistry
from functions.core.skills.resolver import RegistrySkills
from functions.core.skills.wiring import build_deployments
from scripts.local.catalog_export import export_catalog
from scripts.local.delivery import drain_queue
from scripts.local.demo_run import DemoRun
from scripts.local.labelled_ingest import stanford_photos
from scripts.local.stages import training
from scripts.local.stages.labelling import local_labelling_settings
from scripts.local.stages.training import DEMO_CLASSES

REPO = Path(__file__).resolve().parents[3]
DEMO_SKILL = "demo-car-class"
DAY_PHOTOS = 30  # photos of classes the demo skill never saw, two per class
STUDY = REPO / "docs" / "active-learning.json"


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _upload(demo: DemoRun, files: dict[str, bytes]) -> None:
    from functions.detect import handler as detect_handler

    s3 = demo.emulator.client("s3")
    for key, data in files.items():
        s3.put_object(Bucket=demo.emulator.names.raw_bucket, Key=key, Body=data)
    drain_queue(demo.emulator.client("sqs"), demo.emulator.queues["detect_queue_url"], detect_handler.handler)


def _serve(catalog: DynamoCatalog, store: BlobStore, skills: RegistrySkills, version: int) -> int:
    """Answer every unanswered crop with the demo skill (what serving writes on each new upload)."""
    skill = skills.load(DEMO_SKILL, version)
    answered = 0
    for crop in list(catalog.crops_by_status(CropStatus.NEW)):
        if crop.served is not None:
            continue
        ranked = skill.classify(Image.open(io.BytesIO(store.get(crop.crop_bucket, crop.crop_key).data)))
        top = ranked[:5]
        stage = StageAnswer(**skill.ref.model_dump(), label=top[0].label, score=top[0].score, top_k=top)
        margin = top[0].score - (top[1].score if len(top) > 1 else 0.0)
        served = ServedAnswer(
            status="classified",
            stages=[stage],
            final_label=stage.label,
            margin=round(margin, 6),
            served_at=utc_now(),
        )
        answered += catalog.update_crop(
            crop.model_copy(update={"served": served}), expected_status=CropStatus.NEW
        )
    return answered


def run(demo: DemoRun) -> None:
    names = demo.emulator.names
    store = BlobStore(demo.emulator.client("s3"))
    table = demo.emulator.resource("dynamodb").Table(names.catalog_table)
    catalog = DynamoCatalog(table)
    subset = training.shared_subset()  # by module: tests patch it there
    latest = SkillRegistry(table).latest(DEMO_SKILL)
    if subset is None or latest is None:
        reason = "no shared labelled photos" if subset is None else f"no registered {DEMO_SKILL} version"
        demo.progress(f"loop: skipped ({reason})")
        for section in ("data_quality", "active_learning", "feedback", "drift"):
            demo.summary[section] = {"skipped": reason}
        return
    held_out = [p for p in stanford_photos(subset, per_class=2) if p.label not in DEMO_CLASSES][:DAY_PHOTOS]
    data_quality = _data_quality(demo, catalog)
    _upload(demo, {f"{p.label}/new-{p.group}/{p.path.name}": p.path.read_bytes() for p in held_out})
    day = {f"{p.label}/new-{p.group}/{p.path.name}" for p in held_out}
    dark_keys = {f"{p.label}/dark-{p.group}/{p.path.name}" for p in held_out}
    _upload(
        demo,
        {
            f"{p.label}/dark-{p.group}/{p.path.name}": _jpeg(
                ImageEnhance.Brightness(Image.open(p.path).convert("RGB")).enhance(0.4)
            )
            for p in held_out
        },
    )
    skills = RegistrySkills(SkillRegistry(table), build_deployments(), Artifacts(store))
    answered = _serve(catalog, store, skills, latest.skill_version)
    demo.progress(f"loop: {answered} new crops answered by {DEMO_SKILL} v{latest.skill_version}")
    demo.summary["data_quality"] = data_quality
    demo.summary["active_learning"] = _active_learning(demo, catalog, store)
    demo.summary["feedback"] = _feedback(catalog)
    data_quality["ingest_flags_all_photos"] = dict(
        sorted(Counter(f.value for i in catalog.iter_images() if i.stats for f in i.stats.flags).items())
    )
    demo.summary["drift"] = _drift(demo, catalog, day, dark_keys)


def _data_quality(demo: DemoRun, catalog: DynamoCatalog) -> dict[str, Any]:
    """Copies of a test photo under new adverts: uploaded, detected, then kept out by the screen."""
    deps = build_extract_deps()
    spec = DatasetSpec.model_validate(json.loads(training.DEMO_CONFIG.read_text())["dataset"])
    policy = SplitPolicy(test_fraction=spec.test_fraction, val_fraction=spec.val_fraction, salt=deps.salt)
    # adverts the split puts on the train side: there a copy of a test photo would leak
    exact, smaller = [g for g in (f"copy-{n}" for n in range(100)) if hashed_split(g, policy) is Split.TRAIN][
        :2
    ]
    splits = catalog.group_splits()
    test_image = next(
        (i for i in catalog.iter_images() if splits.get(i.group_id) == "test" and i.crop_ids), None
    )
    copies = 0
    if test_image is not None:
        original = Image.open(
            io.BytesIO(BlobStore(demo.emulator.client("s3")).get(test_image.bucket, test_image.key).data)
        )
        hint = test_image.variant_hint or "x"
        resized = original.convert("RGB").resize((original.width * 2 // 3, original.height * 2 // 3))
        _upload(
            demo,
            {f"{hint}/{exact}/copy.jpg": _jpeg(original), f"{hint}/{smaller}/copy.jpg": _jpeg(resized)},
        )
        copies = 2
        for crop in list(catalog.crops_by_status(CropStatus.NEW)):  # reviewed like the rest of their class
            if crop.group_id in {exact, smaller}:
                crop.status, crop.final_class = CropStatus.VERIFIED, crop.variant_hint
                catalog.update_crop(crop)
    noise = _label_noise(demo, catalog)
    _, report = screened_table(spec, deps)
    figures = report.model_dump()
    figures["copies_of_a_test_photo_uploaded"] = copies
    figures["label_noise"] = noise | _expert_resolves(catalog, noise)
    demo.progress(
        f"data quality: {report.blocked_near_duplicates_of_test} of {copies} copies of a test photo kept "
        f"out of training; {report.near_duplicate_pairs} near-duplicate pairs; flags {report.flagged_crops}"
    )
    return figures


def _label_noise(demo: DemoRun, catalog: DynamoCatalog) -> dict[str, Any]:
    """Swap two labels of the deployed demo skill's training data, then run the label-noise check."""
    from training.label_noise import NoiseCheckDeps, check_skill

    store = BlobStore(demo.emulator.client("s3"))
    bucket = demo.emulator.names.artifacts_bucket
    skills = RegistrySkills(SkillRegistry(catalog.table), build_deployments(), Artifacts(store))
    deps = NoiseCheckDeps(catalog, store, skills, bucket)
    version = skills.deployed_version(DEMO_SKILL)
    lineage = read_lineage(store, bucket, DEMO_SKILL, version) if version else None
    if lineage is None:
        return {"skipped": f"no deployed {DEMO_SKILL} version with a lineage record"}
    trained_on = [catalog.get_crop(c) for c in lineage.crop_ids.get("train", [])]
    verified = [c for c in trained_on if c is not None and c.status is CropStatus.VERIFIED]
    by_label: dict[str, list[CropRecord]] = {}
    for crop in verified:
        by_label.setdefault(crop.final_class or crop.variant_hint or "", []).append(crop)
    labels = sorted(by_label)
    swapped: dict[str, str] = {}  # crop id → its true label
    for index, label in enumerate(labels[:2]):
        crop, wrong = by_label[label][0], labels[(index + 1) % len(labels)]
        if len(by_label[label]) >= 3 and wrong != label:
            catalog.update_crop(crop.model_copy(update={"final_class": wrong}))
            swapped[crop.crop_id] = label
    try:
        check = check_skill(deps, DEMO_SKILL, version)
    except ValueError as exc:
        return {"skipped": str(exc), "swapped_labels": swapped}
    sent = send_to_review(catalog, check.candidates, check.checked_by)
    found = sorted(set(swapped) & {c.crop_id for c in check.candidates})
    demo.progress(
        f"label noise: {check.examples} training crops of {DEMO_SKILL} v{version} checked, "
        f"{len(check.candidates)} candidates ({len(found)} of the {len(swapped)} swapped labels), "
        f"{len(sent)} sent to review"
    )
    return {
        "checked_by": check.checked_by,
        "crops_checked": check.examples,
        "swapped_labels": swapped,
        "candidates": len(check.candidates),
        "swapped_found": found,
        "sent_to_review": sent,
        "most_suspicious": [c.model_dump() for c in check.candidates[:3]],
    }


def _expert_resolves(catalog: DynamoCatalog, noise: dict[str, Any]) -> dict[str, Any]:
    """The expert reviews the candidates: a swapped label is corrected back, the others confirmed."""
    review = ReviewStore(catalog)
    corrected = confirmed = 0
    swapped: dict[str, str] = noise.get("swapped_labels", {})
    for crop_id in noise.get("sent_to_review", []):
        crop = catalog.get_crop(crop_id)
        if crop is None or crop.status is not CropStatus.IN_REVIEW or not crop.variant_hint:
            continue
        if crop_id in swapped:
            request = DecisionRequest(variant=crop.variant_hint, corrections={crop_id: swapped[crop_id]})
            corrected += 1
        else:
            request = DecisionRequest(variant=crop.variant_hint, approve=[crop_id])
            confirmed += 1
        review.decide("demo-expert", request)
    for crop_id, label in swapped.items():  # a swap the check missed stays wrong: put it right for the demo
        crop = catalog.get_crop(crop_id)
        if crop is not None and crop.status is CropStatus.VERIFIED and crop.final_class != label:
            catalog.update_crop(crop.model_copy(update={"final_class": label}))
    return {"expert_corrected": corrected, "expert_confirmed": confirmed}


def _active_learning(demo: DemoRun, catalog: DynamoCatalog, store: BlobStore) -> dict[str, Any]:
    region = os.environ.get("SKILLFORGE_AWS_REGION", "us-east-1")
    names = demo.emulator.names
    waiting = list(catalog.crops_by_status(CropStatus.NEW))
    settings = local_labelling_settings(region, names.stage).model_copy(
        update={
            "budget_per_job": max(1, len(waiting) // 2),
            "skip_crowd_when_confident": True,
            "confident_score": 0.9,
        }
    )
    jobs = LocalLabelingJobs(store, names.artifacts_bucket, region)
    result = hand_off(HandoffDeps(catalog, store, jobs, settings, names.artifacts_bucket, region), force=True)
    sent: list[str] = []
    if result is not None and result.manifest_uri:
        manifest = store.get(names.artifacts_bucket, result.manifest_uri.split("/", 3)[3]).data.decode()
        sent = [json.loads(line)["crop-id"] for line in manifest.splitlines()]
    by_id = {c.crop_id: c for c in waiting}

    def row(crop: CropRecord) -> dict[str, Any]:
        served = crop.served
        return {
            "crop": crop.crop_id,
            "hint": crop.variant_hint,
            "model": served.final_label if served else None,
            "margin": served.margin if served else None,
        }

    figures: dict[str, Any] = {
        "waiting_crops": len(waiting),
        "budget_per_job": settings.budget_per_job,
        "sent_to_crowd": result.crops if result else 0,
        "model_labelled_unverified": result.model_labelled if result else 0,
        "deferred_to_next_job": result.deferred if result else 0,
        "crowd_order_first_5": [row(by_id[c]) for c in sent[:5] if c in by_id],
    }
    if STUDY.is_file():
        study = json.loads(STUDY.read_text())
        figures["study"] = {"photos": study["photos"], "classes": study["classes"], "reach": study["reach"]}
    demo.progress(
        f"active learning: {figures['sent_to_crowd']} most uncertain of {len(waiting)} crops to the crowd, "
        f"{figures['model_labelled_unverified']} model-labelled, {figures['deferred_to_next_job']} deferred"
    )
    return figures


def _feedback(catalog: DynamoCatalog) -> dict[str, Any]:
    classes_of = registry_classes(catalog)
    answered = [c for c in catalog.iter_crops() if c.served and c.served.stages and c.variant_hint]

    def known(crop: CropRecord) -> bool:  # the hint is a class of the skill that answered
        stage = crop.served.stages[-1] if crop.served and crop.served.stages else None
        return stage is not None and crop.variant_hint in (classes_of(stage.skill, stage.skill_version) or [])

    wrong = next(
        (c for c in answered if known(c) and c.served and c.served.final_label != c.variant_hint), None
    )
    target = wrong or (answered[0] if answered else None)
    figures: dict[str, Any] = {}
    try:
        record_correction(
            catalog, CorrectionRequest(target="no-such-crop", correct="x"), "demo-user", classes_of
        )
    except CorrectionError as exc:
        figures["refused"] = str(exc)
    if target is None or target.served is None:
        figures["corrections_per_version"] = {}
        return figures
    label = (
        target.variant_hint
        if wrong
        else next(
            c
            for c in classes_of(target.served.stages[-1].skill, target.served.stages[-1].skill_version) or []
            if c != target.served.final_label
        )
    )
    correction = record_correction(
        catalog, CorrectionRequest(target=target.crop_id, correct=str(label)), "demo-user", classes_of
    )
    approved = ReviewStore(catalog).auto_approve(reviewer="demo-expert")
    confirmed = catalog.get_crop(target.crop_id)
    figures.update(
        correction=correction.model_dump(mode="json"),
        expert_confirmed=bool(confirmed and confirmed.status is CropStatus.VERIFIED),
        reviewed_with_it=approved,
        group_split=catalog.group_splits().get(
            target.group_id, "unassigned (decided at the next extraction)"
        ),
        corrections_per_version=corrections_per_version(corrections(catalog)),
    )
    return figures


def _drift(demo: DemoRun, catalog: DynamoCatalog, day: set[str], dark: set[str]) -> dict[str, Any]:
    settings = DriftSettings(min_current=10, min_reference=10)
    store, bucket = BlobStore(demo.emulator.client("s3")), demo.emulator.names.artifacts_bucket
    reference = DeployedLineage(build_deployments(), store, bucket).training_reference(DEMO_SKILL)
    images = list(catalog.iter_images())
    learnt_from = set(reference.image_ids)
    run = compare(
        reference,
        [i for i in images if i.image_id in learnt_from],
        {
            "new photos, unseen classes": [i for i in images if i.key in day],
            "same, darkened": [i for i in images if i.key in dark],
        },
        catalog.iter_crops(),
        settings,
    )
    table = render_table(run.rows)
    print("\n" + table + "\n")
    chart = drift_chart(run, settings.alarm_threshold, demo.out_dir / DRIFT_CHART)
    demo.progress(f"drift against {run.reference_text()}; chart {chart.path}")
    lineage = (
        read_lineage(store, bucket, DEMO_SKILL, reference.skill_version) if reference.skill_version else None
    )
    export = demo.out_dir / "catalog.jsonl"
    exported = export_catalog(
        demo.emulator.resource("dynamodb").Table(demo.emulator.names.catalog_table),
        export,
        [lineage] if lineage else [],
    )
    return {
        "note": (
            f"the demo's reference is the {run.reference_images} training photos of the deployed "
            f"{DEMO_SKILL} version: with so few, even an unshifted batch scores high; compare the rows "
            "(docs/quality-and-drift.md has the figures on 300 photos)"
        ),
        "reference": run.reference_text(),
        "reference_skill_version": reference.skill_version,
        "reference_dataset_version": reference.dataset_version,
        "reference_images": run.reference_images,
        "alarm_threshold": settings.alarm_threshold,
        "rows": [r.model_dump() for r in run.rows],
        "chart": chart.path,
        "chart_worst_features": [f"{feature} ({batch})" for feature, batch in chart.worst],
        "catalog_export": str(export),
        "catalog_items_exported": exported,
    }
