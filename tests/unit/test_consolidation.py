"""Consolidation rules: majority vote per question, ties/unsure → background, worker agreement."""

from __future__ import annotations

import json

import pytest

from functions.core.base.records import CropStatus
from functions.core.labelling.consolidation import (
    PostAnnotationError,
    PreAnnotationError,
    UnknownAnswerError,
    WorkerAnswer,
    consolidate,
    parse_form_output,
    post_annotation,
    pre_annotation,
    worker_tallies,
)
from functions.core.labelling.handoff import Quality, View
from functions.core.labelling.local_jobs import form_output


def answer(worker: str, view: View, quality: Quality = Quality.GOOD) -> WorkerAnswer:
    return WorkerAnswer(worker_id=worker, view=view, quality=quality)


def test_majority_exterior_more_and_good_enters_review() -> None:
    # GIVEN two of three workers say exterior-more/good
    answers = [
        answer("a", View.EXTERIOR_MORE),
        answer("b", View.EXTERIOR_MORE),
        answer("c", View.CLOSE_UP, Quality.BLURRY),
    ]
    # WHEN consolidated
    result = consolidate(answers)
    # THEN the majority wins, the crop enters review, agreement is 2/3 on both questions
    assert (result.view, result.quality, result.status) == (
        View.EXTERIOR_MORE,
        Quality.GOOD,
        CropStatus.IN_REVIEW,
    )
    assert result.view_agreement == pytest.approx(0.6667, abs=1e-4)
    assert result.agreement == pytest.approx(0.6667, abs=1e-4)


def test_view_tie_goes_to_background() -> None:
    # GIVEN three workers with three different views
    answers = [answer("a", View.EXTERIOR_MORE), answer("b", View.INTERIOR), answer("c", View.WHEEL)]
    # WHEN consolidated
    result = consolidate(answers)
    # THEN no view is decided and the crop is kept as background
    assert result.view is None
    assert result.status is CropStatus.BACKGROUND


def test_two_worker_split_is_a_tie() -> None:
    # GIVEN two workers who disagree on quality only
    answers = [answer("a", View.EXTERIOR_MORE, Quality.GOOD), answer("b", View.EXTERIOR_MORE, Quality.BLURRY)]
    # WHEN consolidated
    result = consolidate(answers)
    # THEN the quality tie sends the crop to background
    assert result.view is View.EXTERIOR_MORE and result.quality is None
    assert result.status is CropStatus.BACKGROUND


def test_majority_unsure_goes_to_background() -> None:
    # GIVEN most workers are unsure
    answers = [answer("a", View.UNSURE), answer("b", View.UNSURE), answer("c", View.EXTERIOR_MORE)]
    # WHEN consolidated
    result = consolidate(answers)
    # THEN unsure is decided but the crop goes to background, not review
    assert result.view is View.UNSURE
    assert result.status is CropStatus.BACKGROUND


def test_decided_but_not_reviewable_is_labelled() -> None:
    # GIVEN all agree on a wheel close-up
    answers = [answer(w, View.WHEEL) for w in "abc"]
    # WHEN consolidated
    result = consolidate(answers)
    # THEN it is labelled (known view) and not sent to the expert
    assert result.status is CropStatus.LABELLED
    assert result.agreement == 1.0


def test_good_view_with_bad_quality_is_labelled_not_reviewed() -> None:
    # GIVEN exterior-more but too dark
    answers = [answer(w, View.EXTERIOR_MORE, Quality.BAD_LIGHT) for w in "ab"]
    # WHEN consolidated / THEN labelled
    assert consolidate(answers).status is CropStatus.LABELLED


def test_single_worker_decides_alone_and_counts_nothing_for_agreement_rate() -> None:
    # GIVEN a single-worker job
    results = [consolidate([answer("solo", View.EXTERIOR_MORE)])]
    # WHEN consolidated and tallied
    tallies = worker_tallies(results)
    # THEN the one answer decides and no trivial agreement is credited to the worker
    assert results[0].status is CropStatus.IN_REVIEW and results[0].agreement == 1.0
    assert tallies == {}


def test_no_valid_answer_goes_to_background() -> None:
    # GIVEN every answer was unreadable
    result = consolidate([], invalid_answers=3)
    # THEN background with nothing decided
    assert result.status is CropStatus.BACKGROUND and result.invalid_answers == 3


def test_worker_tally_spots_a_consistently_wrong_worker() -> None:
    # GIVEN a worker who always disagrees with the other two
    results = [
        consolidate(
            [answer("good1", view), answer("good2", view), answer("bad", View.OBSTRUCTED, Quality.BLURRY)]
        )
        for view in (View.EXTERIOR_MORE, View.INTERIOR, View.WHEEL)
    ]
    # WHEN tallied
    tallies = worker_tallies(results)
    # THEN the wrong worker's agreement rate is 0 and the others' is 1
    assert tallies["bad"].rate == 0.0 and tallies["bad"].answers == 6
    assert tallies["good1"].rate == 1.0


def test_parse_form_output_reads_crowd_radio_groups() -> None:
    # GIVEN the crowd-radio-group output of the template
    content = form_output(View.INTERIOR, Quality.BLURRY)
    # WHEN parsed / THEN the chosen answers come back
    parsed = parse_form_output("w", content)
    assert (parsed.view, parsed.quality) == (View.INTERIOR, Quality.BLURRY)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"view-interior": {"interior": True}}),  # no quality answer
        json.dumps(
            {
                "view-interior": {"interior": True},
                "view-wheel": {"wheel": True},
                "quality-good": {"good": True},
            }
        ),
        json.dumps({"view-spaceship": {"spaceship": True}, "quality-good": {"good": True}}),
        json.dumps(["a list"]),
    ],
)
def test_unknown_or_incomplete_answers_are_refused(content: str) -> None:
    # GIVEN a malformed or unknown answer / WHEN parsed / THEN a clear error
    with pytest.raises(UnknownAnswerError):
        parse_form_output("w", content)


def test_post_annotation_leaves_unreadable_answers_out_of_the_vote() -> None:
    # GIVEN a Ground Truth payload: two good answers and one unknown answer
    payload = [
        {
            "datasetObjectId": "0",
            "dataObject": {"s3Uri": "s3://crops/a.jpg"},
            "annotations": [
                {
                    "workerId": "w1",
                    "annotationData": {"content": form_output(View.EXTERIOR_MORE, Quality.GOOD)},
                },
                {
                    "workerId": "w2",
                    "annotationData": {"content": form_output(View.EXTERIOR_MORE, Quality.GOOD)},
                },
                {"workerId": "w3", "annotationData": {"content": json.dumps({"view-x": {"x": True}})}},
            ],
        }
    ]
    problems: list[str] = []
    event = {"labelAttributeName": "crop-labels", "payload": {"s3Uri": "s3://artifacts/payload.json"}}
    # WHEN the consolidation Lambda body runs
    out = post_annotation(event, lambda uri: json.dumps(payload), lambda oid, p: problems.append(p))
    # THEN the output is under the label attribute, the vote used the two readable answers
    content = out[0]["consolidatedAnnotation"]["content"]["crop-labels"]
    assert out[0]["datasetObjectId"] == "0"
    assert content["status"] == "in_review" and content["invalid_answers"] == 1
    assert len(content["answers"]) == 2 and len(problems) == 1


def test_pre_annotation_passes_the_private_s3_uri_for_grant_read_access() -> None:
    # GIVEN a manifest line of a crop in the crops bucket
    event = {"dataObject": {"source-ref": "s3://crops/crops/ab/x/00.jpg", "crop-id": "x-00"}}
    # WHEN pre-annotated / THEN the task input carries the S3 URI (the template presigns it)
    result = pre_annotation(event, "crops")
    assert result == {
        "taskInput": {"taskObject": "s3://crops/crops/ab/x/00.jpg", "cropId": "x-00"},
        "isHumanAnnotationRequired": "true",
    }


def test_pre_annotation_refuses_objects_outside_the_crops_bucket() -> None:
    # GIVEN a data object pointing at another bucket / WHEN pre-annotated / THEN refused
    with pytest.raises(PreAnnotationError):
        pre_annotation({"dataObject": {"source-ref": "s3://elsewhere/a.jpg", "crop-id": "a"}}, "crops")


def test_a_malformed_consolidation_request_is_refused_with_what_it_lacks() -> None:
    # GIVEN an event that is not Ground Truth's consolidation request
    event = {"unexpected": True}
    # WHEN the consolidation runs / THEN it refuses, naming the fields it needs, and reads nothing
    read: list[str] = []

    def reader(uri: str) -> str:
        read.append(uri)
        return "[]"

    with pytest.raises(PostAnnotationError, match=r"labelAttributeName and payload\.s3Uri"):
        post_annotation(event, reader)
    assert read == []
