"""Serving rules without AWS: routing and failures of the cascade, the broken-skill memory, plans."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError
from PIL import Image

from functions.core.base.records import Scored, SkillRef
from functions.core.detection.crops import crop_id, crop_id_of_key, crop_key
from functions.core.serving.config import CascadeConfig, CascadeStage
from functions.core.serving.reprocess import ReprocessRequest, plan
from functions.core.serving.serve import ServeDeps, serve_crop, served_summary
from functions.core.serving.skills import DeployedSkills, SkillUnavailableError
from functions.core.skills.deployment import DeploymentStore, parameter_name
from functions.core.skills.model import ClassifierSkill

CASCADE = CascadeConfig(
    stages=[
        CascadeStage(skill="car-make"),
        CascadeStage(skill="car-variant-audi", after="car-make", when=["Audi"]),
        CascadeStage(skill="car-variant-bmw", after="car-make", when=["BMW"]),
    ]
)


@dataclass
class FakeSsm:
    """SSM parameters of the stage 'test': skill → deployed version."""

    versions: dict[str, int]

    def get_parameter(self, Name: str) -> dict[str, Any]:  # noqa: N803 (boto3's argument name)
        for skill, version in self.versions.items():
            if Name == parameter_name("test", skill):
                value = {"version": version, "artifact_uri": f"s3://a/skills/{skill}/v{version}"}
                return {"Parameter": {"Value": json.dumps(value)}}
        raise ClientError({"Error": {"Code": "ParameterNotFound", "Message": Name}}, "GetParameter")


@dataclass
class FakeSkill:
    name: str
    version: int
    ranked: list[tuple[str, float]]

    @property
    def ref(self) -> SkillRef:
        return SkillRef(skill=self.name, skill_version=self.version, code_version="c0de")

    def classify(self, image: Image.Image) -> list[Scored]:
        return [Scored(label=label, score=score) for label, score in self.ranked]


@dataclass
class Loader:
    """Loads fake skills by artifact URI; URIs in `broken` raise what they are mapped to."""

    answers: dict[str, list[tuple[str, float]]]
    broken: dict[str, Exception] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def __call__(self, uri: str) -> ClassifierSkill:
        self.calls.append(uri)
        if uri in self.broken:
            raise self.broken[uri]
        skill, version = uri.split("/")[-2], int(uri.rsplit("/v", 1)[1])
        return cast(ClassifierSkill, FakeSkill(skill, version, self.answers[skill]))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _deps(versions: dict[str, int], loader: Loader, clock: Clock | None = None) -> ServeDeps:
    store = DeploymentStore(FakeSsm(versions), "test", ttl_s=60, clock=clock or Clock())
    return ServeDeps(config=CASCADE, skills=DeployedSkills(store, loader, clock=clock or Clock()))


IMAGE = Image.new("RGB", (32, 32))
MAKES = [("Audi", 0.7), ("BMW", 0.2), ("Dodge", 0.1)]


def test_the_make_routes_to_its_variant_skill_and_the_margin_is_the_last_stages() -> None:
    # GIVEN make and both variant skills deployed
    loader = Loader(
        {"car-make": MAKES, "car-variant-audi": [("a4", 0.6), ("tt", 0.3)], "car-variant-bmw": []}
    )
    deps = _deps({"car-make": 3, "car-variant-audi": 1, "car-variant-bmw": 1}, loader)
    # WHEN a crop is served
    answer = serve_crop(IMAGE, deps)
    # THEN make then the Audi variant answered (not BMW's), each with its version
    assert [(s.skill, s.skill_version, s.label) for s in answer.stages] == [
        ("car-make", 3, "Audi"),
        ("car-variant-audi", 1, "a4"),
    ]
    assert (answer.status, answer.reason, answer.final_label) == ("classified", None, "a4")
    assert answer.margin == pytest.approx(0.3)


def test_a_variant_skill_not_deployed_yet_is_no_fault() -> None:
    # GIVEN only the make skill deployed
    deps = _deps({"car-make": 1}, Loader({"car-make": MAKES}))
    # WHEN a crop is served
    answer = serve_crop(IMAGE, deps)
    # THEN the make answers alone, with no reason
    assert ([s.skill for s in answer.stages], answer.reason) == (["car-make"], None)


def test_a_broken_variant_keeps_the_make_answer_and_says_why() -> None:
    # GIVEN the Audi variant's artifact is missing
    loader = Loader(
        {"car-make": MAKES},
        broken={"s3://a/skills/car-variant-audi/v2": FileNotFoundError("gone")},
    )
    deps = _deps({"car-make": 1, "car-variant-audi": 2}, loader)
    # WHEN a crop is served
    answer = serve_crop(IMAGE, deps)
    # THEN it is classified by the make, with the variant's failure as the reason
    assert (answer.status, answer.final_label, answer.reason) == (
        "classified",
        "Audi",
        "skill_artifact_missing",
    )
    assert served_summary([answer])["skill_unavailable"] == 1


def test_a_broken_version_is_remembered_for_the_ttl_then_tried_again() -> None:
    # GIVEN a make version whose model is corrupt
    clock = Clock()
    loader = Loader({"car-make": MAKES}, broken={"s3://a/skills/car-make/v4": ValueError("bad onnx")})
    deps = _deps({"car-make": 4}, loader, clock)
    # WHEN three crops are served within the TTL, then one after it
    answers = [serve_crop(IMAGE, deps) for _ in range(3)]
    clock.now = 61.0
    serve_crop(IMAGE, deps)
    # THEN each is not classified with the reason; the artifact was read once per TTL, not per crop
    assert {(a.status, a.reason) for a in answers} == {("not_classified", "skill_artifact_corrupt")}
    assert loader.calls == ["s3://a/skills/car-make/v4"] * 2


def test_a_transient_aws_error_is_raised_so_the_message_is_retried() -> None:
    # GIVEN S3 throttles the artifact download
    throttled = ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "GetObject")
    deps = _deps({"car-make": 1}, Loader({}, broken={"s3://a/skills/car-make/v1": throttled}))
    # WHEN a crop is served THEN the error propagates (no answer is recorded)
    with pytest.raises(ClientError):
        serve_crop(IMAGE, deps)


def test_a_skill_not_deployed_raises_the_reason_for_a_direct_lookup() -> None:
    deps = _deps({}, Loader({}))
    with pytest.raises(SkillUnavailableError, match="no version is deployed"):
        deps.skills.get("car-make")


def test_crop_ids_come_back_from_crop_keys_and_other_keys_are_refused() -> None:
    # GIVEN the key of crop 3 of an image
    key = crop_key("abcdef123456", 3)
    # THEN the crop id is found from the key; a key of another shape is refused by name
    assert crop_id_of_key(key) == crop_id("abcdef123456", 3)
    with pytest.raises(ValueError, match="is not a crop key"):
        crop_id_of_key("crops/readme.txt")


def test_the_plan_counts_batches_and_prices_every_service() -> None:
    # WHEN a reprocess of 1,000,001 crops is planned in batches of 100
    result = plan(
        ReprocessRequest(skill="car-make"),
        2,
        1_000_001,
        batch_size=100,
        max_concurrency=10,
        ms_per_crop=60,
        memory_mb=2048,
    )
    # THEN the batches round up and each service has a price in the total
    assert result.batches == 10_001
    assert set(result.cost_breakdown_usd) == {"lambda", "step_functions", "s3", "dynamodb"}
    assert result.estimated_usd == pytest.approx(sum(result.cost_breakdown_usd.values()), abs=1e-3)
    assert result.cost_breakdown_usd["lambda"] == pytest.approx(1_000_001 * 0.06 * 2 * 0.0000166667, rel=0.01)
