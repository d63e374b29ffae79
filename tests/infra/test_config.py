"""The typed deploy config read from cdk.json's context."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import CONTEXT_KEY, ConfigError, cdk_json_context, parse_deploy_config


def _with_stage(**overrides: Any) -> dict[str, Any]:
    return {"stages": {"dev": overrides}}


def test_cdk_json_context_is_a_valid_config_with_dev_and_prod() -> None:
    # GIVEN the repository's cdk.json
    # WHEN its skillforge context is parsed
    config = parse_deploy_config(cdk_json_context()[CONTEXT_KEY])
    # THEN it defines the dev and prod stages, prod keeping its non-data resources
    assert set(config.stages) == {"dev", "prod"}
    assert config.stage("prod").removal_policy == "retain"


def test_every_stage_field_of_cdk_json_is_spelled_out() -> None:
    # GIVEN the stages in cdk.json and the fields of the model
    from infra.config import StageConfig

    stage_keys = {
        field.alias or name
        for name, field in StageConfig.model_fields.items()
        if name not in {"account", "region"}
    }
    # THEN cdk.json lists every field for every stage (the documented defaults are the real ones)
    for stage, values in cdk_json_context()[CONTEXT_KEY]["stages"].items():
        assert stage_keys <= set(values), (stage, sorted(stage_keys - set(values)))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"detectMemoryMb": 64}, "skillforge.stages.dev.detectMemoryMb"),
        ({"detectTimeoutSeconds": 901}, "skillforge.stages.dev.detectTimeoutSeconds"),
        ({"logRetentionDays": 13}, "skillforge.stages.dev.logRetentionDays"),
        ({"removalPolicy": "snapshot"}, "skillforge.stages.dev.removalPolicy"),
        ({"alarmEmail": "not-an-address"}, "skillforge.stages.dev.alarmEmail"),
        ({"confidence": 1.5}, "skillforge.stages.dev.confidence"),
        ({"vehicleClasses": []}, "skillforge.stages.dev.vehicleClasses"),
        ({"detectorModel": "../etc/passwd"}, "skillforge.stages.dev.detectorModel"),
        ({"detectMemroyMb": 3008}, "skillforge.stages.dev.detectMemroyMb"),
        ({"labellingWorkforce": "mturk"}, "skillforge.stages.dev.labellingWorkforce"),
        ({"labellingWorkersPerCrop": 10}, "skillforge.stages.dev.labellingWorkersPerCrop"),
        ({"labellingSecondsPerTask": 0}, "skillforge.stages.dev.labellingSecondsPerTask"),
        ({"labellingHourlyRateUsd": -15}, "skillforge.stages.dev.labellingHourlyRateUsd"),
        ({"labellingBatchSize": 0}, "skillforge.stages.dev.labellingBatchSize"),
        ({"labellingMaxAgeMinutes": -1}, "skillforge.stages.dev.labellingMaxAgeMinutes"),
        ({"labellingJobsPerRun": 0}, "skillforge.stages.dev.labellingJobsPerRun"),
        ({"labellingHandoffEveryMinutes": 0}, "skillforge.stages.dev.labellingHandoffEveryMinutes"),
        ({"labellingWorkteamArn": "team-a"}, "skillforge.stages.dev.labellingWorkteamArn"),
        ({"reviewDomainPrefix": "Bad_Prefix"}, "skillforge.stages.dev.reviewDomainPrefix"),
        ({"reviewDomainPrefix": "my-cognito-login"}, "skillforge.stages.dev.reviewDomainPrefix"),
        ({"trainingImageUri": "docker.io/me/train:1"}, "skillforge.stages.dev.trainingImageUri"),
        ({"splitSalt": ""}, "skillforge.stages.dev.splitSalt"),
        ({"notificationEmails": ["ml@example.com", "nobody"]}, "skillforge.stages.dev.notificationEmails"),
        ({"slackSecretName": "slack webhook"}, "skillforge.stages.dev.slackSecretName"),
    ],
)
def test_a_bad_value_fails_naming_the_field(overrides: dict[str, Any], field: str) -> None:
    # GIVEN a stage with one bad value (or a misspelt key)
    raw = _with_stage(**overrides)
    # WHEN it is parsed
    # THEN the error names the field as written in cdk.json
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        parse_deploy_config(raw)


WORKTEAM = "arn:aws:sagemaker:eu-west-1:123456789012:workteam/private-crowd/experts"


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"labellingWorkforce": "private"}, "needs labellingWorkteamArn"),
        ({"labellingWorkforce": "public", "labellingWorkteamArn": WORKTEAM}, "only for labellingWorkforce"),
    ],
)
def test_workforce_and_work_team_must_agree(overrides: dict[str, Any], problem: str) -> None:
    # GIVEN a private workforce without a team, or a public one with a private team
    # THEN the config is refused, naming the keys
    with pytest.raises(ConfigError, match=problem):
        parse_deploy_config(_with_stage(**overrides))


def test_private_workforce_with_its_team_is_accepted() -> None:
    # GIVEN a private workforce and its work team ARN
    config = parse_deploy_config(_with_stage(labellingWorkforce="private", labellingWorkteamArn=WORKTEAM))
    # THEN both are kept
    assert config.stage("dev").labelling_workteam_arn == WORKTEAM


def test_reserved_concurrency_below_the_poller_limit_is_refused() -> None:
    # GIVEN more SQS pollers than reserved executions (throttled batches would end in the DLQ)
    raw = _with_stage(detectMaxConcurrency=10, detectReservedConcurrency=5)
    # THEN the config is refused with the reason
    with pytest.raises(ConfigError, match="detectReservedConcurrency"):
        parse_deploy_config(raw)


@pytest.mark.parametrize("stage", ["Prod", "dev_1", "a-stage-name-too-long"])
def test_stage_names_follow_the_shared_naming_rule_and_fit_bucket_names(stage: str) -> None:
    # GIVEN a stage name that is invalid or too long for 63-character bucket names
    # THEN it is refused, naming the stages field
    with pytest.raises(ConfigError, match=r"skillforge\.stages"):
        parse_deploy_config({"stages": {stage: {}}})


def test_context_given_as_a_json_string_on_the_command_line_is_parsed() -> None:
    # GIVEN `-c skillforge='{...}'`, which the CDK CLI passes as a string
    raw = json.dumps(_with_stage(detectBatchSize=7))
    # WHEN it is parsed
    config = parse_deploy_config(raw)
    # THEN the value is used
    assert config.stage("dev").detect_batch_size == 7


def test_missing_context_and_unknown_stage_are_clear_errors() -> None:
    # GIVEN no skillforge context, or a stage that is not configured
    # THEN each fails with what is missing
    with pytest.raises(ConfigError, match="no 'skillforge' key"):
        parse_deploy_config(None)
    config = parse_deploy_config(_with_stage())
    with pytest.raises(ConfigError, match=r"no stage 'qa'.*known: dev"):
        config.selected("qa")


def test_queue_visibility_timeout_follows_the_function_timeout() -> None:
    # GIVEN a 100 s function timeout and a 10 s batching window
    config = parse_deploy_config(_with_stage(detectTimeoutSeconds=100, detectMaxBatchingWindowSeconds=10))
    # THEN messages stay invisible for six timeouts plus the window
    assert config.stage("dev").queue_visibility_timeout_seconds == 610


def test_relative_models_dir_is_resolved_from_the_repository_root() -> None:
    # GIVEN the default models directory
    config = parse_deploy_config(_with_stage())
    # THEN it is ../shared/models beside the repository, as an absolute path
    from infra.config import REPO_ROOT

    assert config.models_dir() == (REPO_ROOT.parent / "shared" / "models").resolve()
