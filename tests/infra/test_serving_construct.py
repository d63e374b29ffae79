"""Serving in the synthesized stack: detect serves the cascade; reprocess is a Distributed Map."""

from __future__ import annotations

import json
from typing import Any

from functions.core.serving.config import CascadeConfig
from tests.conftest import REPO
from tests.infra.conftest import Synthesized


def _definition(synthesized: Synthesized) -> tuple[dict[str, Any], list[Any]]:
    machine = synthesized.resources[synthesized.logical_id(synthesized.stack.serving.state_machine)]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    tokens = [p for p in parts if not isinstance(p, str)]
    text = "".join(p if isinstance(p, str) else f"TOKEN{tokens.index(p)}" for p in parts)
    definition: dict[str, Any] = json.loads(text)
    return definition, tokens


def test_reprocess_is_a_distributed_map_over_the_crops_listing_in_batches(synthesized: Synthesized) -> None:
    # GIVEN the reprocess state machine's definition
    definition, tokens = _definition(synthesized)
    stack = synthesized.stack
    # THEN its one state is a Distributed Map reading the crops bucket listing under the input's prefix
    state = definition["States"][definition["StartAt"]]
    assert state["Type"] == "Map" and state["End"] is True
    assert state["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    reader = state["ItemReader"]
    assert reader["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    assert reader["Parameters"]["Prefix.$"] == "$.prefix"
    assert tokens[int(reader["Parameters"]["Bucket"][len("TOKEN") :])] == {
        "Ref": synthesized.logical_id(stack.crops_bucket)
    }
    # AND batches carry the skill and version, with a concurrency limit and no tolerated failure
    assert state["ItemBatcher"]["MaxItemsPerBatch"] == 100
    assert state["ItemBatcher"]["BatchInput"] == {
        "skill.$": "$.skill",
        "version.$": "$.version",
        "prefix.$": "$.prefix",
    }
    assert state["MaxConcurrency"] == 10 and state["ToleratedFailurePercentage"] == 0
    # AND each batch invokes the reprocess function (retried), results go to the artifacts bucket
    task = state["ItemProcessor"]["States"][state["ItemProcessor"]["StartAt"]]
    assert task["Resource"] == "arn:aws:states:::lambda:invoke" and task["Retry"]
    function = tokens[int(task["Parameters"]["FunctionName"][len("TOKEN") :])]
    assert function == {"Fn::GetAtt": [synthesized.logical_id(stack.serving.reprocess_function), "Arn"]}
    assert state["ResultWriter"]["Parameters"]["Prefix"] == "reprocess/"


def test_the_reprocess_function_is_the_detect_image_with_its_own_handler(synthesized: Synthesized) -> None:
    # GIVEN the reprocess function
    props = synthesized.resources[synthesized.logical_id(synthesized.stack.serving.reprocess_function)][
        "Properties"
    ]
    # THEN it runs the reprocess handler of a container image, with the served cascade
    assert props["PackageType"] == "Image"
    assert props["ImageConfig"]["Command"] == ["functions.reprocess.handler.handler"]
    assert "SKILLFORGE_CASCADE" in props["Environment"]["Variables"]


def test_the_detect_function_serves_the_cascade_of_infra_cascade_json(synthesized: Synthesized) -> None:
    # GIVEN the detect function's environment
    stack = synthesized.stack
    env = synthesized.resources[synthesized.logical_id(stack.detection.function)]["Properties"]["Environment"]
    variables = env["Variables"]
    # THEN it carries the cascade (as data), the deployment TTL and the cache folder
    served = CascadeConfig.model_validate_json(variables["SKILLFORGE_CASCADE"])
    assert served == CascadeConfig.from_file(REPO / "infra" / "cascade.json")
    assert served.skills()[0] == "car-make"
    assert variables["SKILLFORGE_DEPLOYMENT_TTL_S"] == "60"
    # AND it may read the stage's skill parameters
    granted = synthesized.granted(stack.detection.role)
    ssm = [key for key, actions in granted.items() if "ssm:GetParameter" in actions]
    assert len(ssm) == 1 and "/skillforge/dev/skills/" in ssm[0]


def test_a_broken_skill_and_a_failed_reprocess_raise_alarms(synthesized: Synthesized) -> None:
    # GIVEN the alarms of the stack
    alarms = synthesized.of_type("AWS::CloudWatch::Alarm").values()
    # THEN the serving metric alarms at one broken answer, and a failed reprocess execution alarms
    unavailable = [a for a in alarms if a["Properties"].get("MetricName") == "crops_skill_unavailable"]
    assert len(unavailable) == 1
    assert unavailable[0]["Properties"]["Threshold"] == 1
    assert unavailable[0]["Properties"]["Namespace"] == "skillforge-dev"
    failed = [a for a in alarms if a["Properties"].get("MetricName") == "ExecutionsFailed"]
    assert failed and failed[0]["Properties"]["AlarmActions"]
